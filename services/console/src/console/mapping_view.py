"""Pure: the Mapping screen's rows, unmapped first, and the banner's counts.

Each section pairs what recent invoices used (the left side) with a choice from the live Xero
organisation (the right side). A currency needs no entry when Xero has it enabled: it is sent
as is, so only a currency neither mapped nor enabled counts as unmapped.
"""

from dataclasses import dataclass
from datetime import datetime

from console.clients.connector import Choices, Mappings, Seen, SeenValue


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Row:
    value: str
    mapped_to: str | None
    last_seen: datetime | None
    needs_mapping: bool


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the Mappings field and the form's name prefix
    title: str
    noun: str  # "tax code", for the banner
    target: str  # "Xero tax rate"
    rows: list[Row]
    options: list[Option] | None  # None: Xero's list is not available (type a code)

    @property
    def unmapped(self) -> int:
        return sum(row.needs_mapping for row in self.rows)


def _rows(
    seen: list[SeenValue], mapped: dict[str, str], acceptable_unmapped: set[str]
) -> list[Row]:
    last_seen = {s.value: s.last_seen for s in seen}
    values = list(dict.fromkeys([*last_seen, *mapped]))
    rows = [
        Row(
            value=value,
            mapped_to=mapped.get(value),
            last_seen=last_seen.get(value),
            needs_mapping=value in last_seen
            and value not in mapped
            and value not in acceptable_unmapped,
        )
        for value in values
    ]
    # Unmapped first, then the most recently seen, then by name.
    return sorted(
        rows,
        key=lambda r: (
            not r.needs_mapping,
            -(r.last_seen.timestamp() if r.last_seen else 0),
            r.value,
        ),
    )


def sections(seen: Seen | None, choices: Choices | None, mappings: Mappings) -> list[Section]:
    seen = seen or Seen()
    enabled = {c.code for c in choices.currencies} if choices else set()
    return [
        Section(
            "accounts",
            "Revenue categories → accounts",
            "revenue category",
            "Xero account",
            _rows(seen.revenue_categories, mappings.accounts, set()),
            [Option(a.code, f"{a.code} · {a.name}") for a in choices.accounts] if choices else None,
        ),
        Section(
            "tax_rates",
            "Tax codes → tax rates",
            "tax code",
            "Xero tax rate",
            _rows(seen.tax_codes, mappings.tax_rates, set()),
            [
                Option(t.tax_type, f"{t.name} ({t.tax_type}, {t.effective_rate}%)")
                for t in choices.tax_rates
            ]
            if choices
            else None,
        ),
        Section(
            "currencies",
            "Currencies",
            "currency",
            "Xero currency",
            _rows(seen.currencies, mappings.currencies, enabled),
            [Option(c.code, f"{c.code} · {c.description}") for c in choices.currencies]
            if choices
            else None,
        ),
    ]


def banner(parts: list[Section]) -> list[str]:
    """ "3 tax codes have no mapping", one line per section that has any."""
    lines = []
    for part in parts:
        if count := part.unmapped:
            noun = part.noun if count == 1 else f"{part.noun.replace('currency', 'currencie')}s"
            verb = "has" if count == 1 else "have"
            lines.append(f"{count} {noun} {verb} no mapping")
    return lines
