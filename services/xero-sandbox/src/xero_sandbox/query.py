"""Query parameters: a small evaluator for Xero's ``where`` syntax, ID lists, paging and
``unitdp``.

Supported ``where``: clauses joined by ``AND``/``&&``, each ``Field=="text"``,
``Field!="text"``, ``Field==guid("...")``, ``Field==true`` or ``Field.Contains("text")``,
``.StartsWith``, ``.EndsWith``. Text comparisons ignore case, as Xero's do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .errors import QueryParseError
from .totals import UNIT_DP, UNIT_DP_OPT_IN
from .xero_json import JsonDict

T = TypeVar("T")
Getter = Callable[[T], object]

_AND = re.compile(r"\s+(?:AND|&&)\s+", re.IGNORECASE)
_OR = re.compile(r"\s+(?:OR|\|\|)\s+", re.IGNORECASE)
_COMPARE = re.compile(
    r"^(?P<field>[A-Za-z][\w.]*)\s*(?P<op>==|!=)\s*"
    r'(?:guid\("(?P<guid>[^"]*)"\)|"(?P<text>[^"]*)"|(?P<bare>true|false|-?\d+(?:\.\d+)?))$',
    re.IGNORECASE,
)
_METHOD = re.compile(
    r'^(?P<field>[A-Za-z][\w.]*)\.(?P<method>Contains|StartsWith|EndsWith)\("(?P<text>[^"]*)"\)$',
    re.IGNORECASE,
)

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    op: str  # "==", "!=", "contains", "startswith", "endswith"
    value: str  # case-folded

    def test(self, actual: object) -> bool:
        text = _fold(actual)
        if self.op == "==":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        if text is None:
            return False
        if self.op == "contains":
            return self.value in text
        if self.op == "startswith":
            return text.startswith(self.value)
        return text.endswith(self.value)


def _fold(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def parse_where(text: str | None, fields: Iterable[str]) -> list[Clause]:
    if not text or not text.strip():
        return []
    if _OR.search(text):
        raise QueryParseError("OR is not supported by the sandbox; use separate calls")
    known = {field.casefold(): field for field in fields}
    clauses = []
    for part in _AND.split(text.strip()):
        part = part.strip()
        while part.startswith("(") and part.endswith(")"):
            part = part[1:-1].strip()
        compared = _COMPARE.match(part)
        called = None if compared else _METHOD.match(part)
        matched = compared or called
        if matched is None:
            raise QueryParseError(f"Cannot parse where clause: {part}")
        field = known.get(matched["field"].casefold())
        if field is None:
            raise QueryParseError(f"Unknown field in where clause: {matched['field']}")
        if compared:
            raw = compared["guid"] if compared["guid"] is not None else compared["text"]
            value = raw if raw is not None else compared["bare"]
            clauses.append(Clause(field, compared["op"], value.casefold()))
        else:
            assert called is not None
            clauses.append(Clause(field, called["method"].casefold(), called["text"].casefold()))
    return clauses


def equality(clauses: list[Clause], field: str) -> str | None:
    """The value a clause pins ``field`` to, so the caller can use an index instead of a scan."""
    for clause in clauses:
        if clause.field == field and clause.op == "==":
            return clause.value
    return None


def matches(clauses: list[Clause], getters: Mapping[str, Getter[T]], item: T) -> bool:
    return all(clause.test(getters[clause.field](item)) for clause in clauses)


def unit_decimal_places(params: Mapping[str, str]) -> int:
    """``unitdp=4`` opts in to four decimal places on UnitAmount; anything else keeps two."""
    return UNIT_DP_OPT_IN if (params.get("unitdp") or "").strip() == "4" else UNIT_DP


def split_list(text: str | None) -> list[str]:
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def paginate(
    items: list[T], page: int | None, page_size: int | None
) -> tuple[list[T], JsonDict | None]:
    """Xero pages only when asked (``page``), 100 per page unless ``pageSize`` says else."""
    if page is None:
        return items, None
    size = min(max(page_size or DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)
    page = max(page, 1)
    start = (page - 1) * size
    count = len(items)
    pagination = {
        "page": page,
        "pageSize": size,
        "pageCount": (count + size - 1) // size,
        "itemCount": count,
    }
    return items[start : start + size], pagination
