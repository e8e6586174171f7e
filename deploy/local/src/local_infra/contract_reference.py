"""The tables of docs/contract.md, generated from the code so the document cannot drift.

    python -m local_infra.contract_reference            # print every generated table
    python -m local_infra.contract_reference --write    # replace docs/contract.md's tables
    python -m local_infra.contract_reference --check    # exit 1 when docs/contract.md is stale

The document is prose written by hand around named blocks,
``<!-- generated:NAME -->`` … ``<!-- /generated:NAME -->``; each block is rendered here from
what the code says today:

- ``make``: the Makefile's targets and their ``## `` help text;
- ``ports``: each service's default ``port`` setting, and the local servers';
- ``endpoints``: each FastAPI app's OpenAPI paths, for every package under ``services/``
  (so an endpoint or a service added later appears on the next ``--write``);
- ``topics``, ``events``: the topic constants, ``EventType`` and the event models;
- ``errors``: ``sync_schemas.ErrorCode`` and its catalogue.

A block the document names but this module cannot render, or one it renders but the document
lacks, is an error.
"""

import argparse
import enum
import importlib
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from local_infra.paths import REPO_ROOT
from local_infra.stack_settings import StackSettings
from sync_schemas import topics
from sync_schemas.errors import CATALOGUE, ErrorCode
from sync_schemas.events import EventType

DOCUMENT = REPO_ROOT / "docs" / "contract.md"
MAKEFILE = REPO_ROOT / "Makefile"
SERVICES = REPO_ROOT / "services"
BLOCK = re.compile(
    r"(?P<open><!-- generated:(?P<name>[a-z0-9-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /generated:(?P=name) -->)",
    re.DOTALL,
)

# An HTTP answer that is not the endpoint's own outcome but one every route may give; left out
# of the "answers" column so it lists what the endpoint does.
_COMMON_STATUSES = {"400", "401", "413", "422", "503"}


def _cell(text: str) -> str:
    """One Markdown table cell: one line, pipes escaped, reST ``code`` as Markdown `code`."""
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    match = re.match(r"(.+?)\.(\s|$)", text)
    return match.group(1) if match else text


# --- make ---------------------------------------------------------------------------------


def make_targets(makefile: Path = MAKEFILE) -> list[tuple[str, str]]:
    """(target, help) for every ``target: ... ## help`` line, in the Makefile's order."""
    found = re.findall(r"^([a-zA-Z0-9_-]+):.*?## (.+)$", makefile.read_text(), re.MULTILINE)
    return [(target, text.strip()) for target, text in found]


def render_make() -> str:
    lines = ["| command | does |", "| --- | --- |"]
    lines += [f"| `make {target}` | {_cell(text)} |" for target, text in make_targets()]
    return "\n".join(lines)


# --- services, ports and endpoints --------------------------------------------------------


def service_packages() -> list[tuple[str, str]]:
    """(directory name, import name) of every package under ``services/``."""
    return [
        (path.name, path.name.replace("-", "_"))
        for path in sorted(SERVICES.iterdir())
        if (path / "pyproject.toml").exists()
    ]


def _factory(package: str) -> Callable[..., Any]:
    for module in ("main", "app"):
        try:
            found = importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError:
            continue
        factory: Callable[..., Any] | None = getattr(found, "create_app", None)
        if factory is not None:
            return factory
    raise LookupError(f"{package} has no create_app in {package}.main or {package}.app")


def _settings(package: str) -> BaseModel:
    """The service's Settings with their defaults, unvalidated: the routes do not depend on
    secrets, and a required one (the connector's token keys) must not stop the listing."""
    model: type[BaseModel] = importlib.import_module(f"{package}.config").Settings
    return model.model_construct()


def openapi(package: str) -> dict[str, Any]:
    """The OpenAPI document of the package's app, built without starting it."""
    app = _factory(package)(_settings(package))
    spec: dict[str, Any] = app.openapi()
    return spec


def default_port(package: str) -> int:
    return int(_settings(package).model_dump(include={"port"})["port"])


def render_ports() -> str:
    stack = StackSettings.model_construct()
    lines = ["| what | default address |", "| --- | --- |"]
    services = sorted(
        (default_port(package), directory) for directory, package in service_packages()
    )
    lines += [f"| {directory} | `http://127.0.0.1:{port}` |" for port, directory in services]
    lines.append(f"| Kafka (KRaft, one node) | `127.0.0.1:{stack.kafka_port}` |")
    lines.append(f"| MongoDB wire protocol | `mongodb://127.0.0.1:{stack.mongodb_port}` |")
    return "\n".join(lines)


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _answers(operation: dict[str, Any]) -> str:
    statuses = sorted(operation.get("responses", {}))
    own = [s for s in statuses if s not in _COMMON_STATUSES or s.startswith("2")]
    return ", ".join(own)


def _does(operation: dict[str, Any]) -> str:
    description = operation.get("description") or ""
    return _cell(_first_sentence(description) if description else operation.get("summary", ""))


def endpoint_table(spec: dict[str, Any], select: Callable[[str], bool] = lambda _: True) -> str:
    """method, path, whether it needs an API key (the service documents 401 for it), the
    answers particular to it, and what it does (its docstring's first sentence)."""
    lines = ["| method | path | key | answers | does |", "| --- | --- | --- | --- | --- |"]
    for method, path, operation in _operations(spec):
        if not select(path):
            continue
        key = "yes" if "401" in operation.get("responses", {}) else "no"
        lines.append(
            f"| {method} | `{path}` | {key} | {_answers(operation)} | {_does(operation)} |"
        )
    return "\n".join(lines)


def _sandbox_table(spec: dict[str, Any], control: bool) -> str:
    """The sandbox's emulated Xero paths and its test-only control paths, apart. Its key
    column is Xero's own auth, not an API key: leave it out."""
    table = endpoint_table(spec, lambda path: path.startswith("/_sandbox") == control)
    rows = [re.sub(r"^(\| [^|]+\| [^|]+)\| [^|]+", r"\1", row) for row in table.splitlines()]
    rows[1] = "| --- | --- | --- | --- |"
    return "\n".join(rows)


def render_endpoints() -> str:
    """A section per service: its port, its description, its endpoints. A service added
    under ``services/`` gets its section on the next ``--write``."""
    parts: list[str] = []
    by_port = sorted(
        (default_port(package), directory, package) for directory, package in service_packages()
    )
    for port, directory, package in by_port:
        spec = openapi(package)
        about = _cell(spec["info"].get("description", "").split("\n\n")[0])
        if directory == "xero-sandbox":
            parts.append(f"### {directory} (`:{port}`)\n\n{about}\n\n{_sandbox_table(spec, False)}")
            parts.append(
                f"#### {directory}: control API, for tests and benchmarks only\n\n"
                f"{_sandbox_table(spec, True)}"
            )
        else:
            parts.append(f"### {directory} (`:{port}`)\n\n{about}\n\n{endpoint_table(spec)}")
    return "\n\n".join(parts)


# --- topics, events, errors ---------------------------------------------------------------


def render_topics() -> str:
    lines = ["| topic | event types (`ce_type`) |", "| --- | --- |"]
    for topic in topics.ALL_TOPICS:
        types_ = [f"`{t.value}`" for t in EventType if t.topic == topic]
        carries = ", ".join(types_) or "none of its own: each record as it was read (see below)"
        lines.append(f"| `{topic}` | {carries} |")
    return "\n".join(lines)


def type_text(annotation: Any) -> str:
    """A field's type as a reader wants it: enums by their values, optional as ``?``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_text(get_args(annotation)[0])
    if annotation is ErrorCode:
        return "an error code (below)"
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return " \\| ".join(type_text(a) for a in args)
    if origin is list:
        return f"list of {type_text(get_args(annotation)[0])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    name = getattr(annotation, "__name__", str(annotation))
    return {"Decimal": "decimal string", "str": "string", "int": "integer", "bool": "boolean"}.get(
        name, name
    )


def _required(field: FieldInfo) -> str:
    return "yes" if field.is_required() else "no"


def model_table(model: type[BaseModel]) -> str:
    lines = ["| field | type | required | notes |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        lines.append(
            f"| `{name}` | {type_text(field.annotation)} | {_required(field)} "
            f"| {_cell(field.description or '')} |"
        )
    return "\n".join(lines)


def event_models() -> dict[str, type[BaseModel]]:
    """Every model an event's data is made of, by its class name."""
    found: dict[str, type[BaseModel]] = {}

    def visit(model: type[BaseModel]) -> None:
        if model.__name__ in found:
            return
        found[model.__name__] = model
        for field in model.model_fields.values():
            for candidate in (field.annotation, *get_args(field.annotation)):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    visit(candidate)

    for event_type in EventType:
        visit(event_type.model)
    return found


def render_events() -> str:
    """A table per model an event's data is made of, contract types first."""
    parts = []
    for name, model in event_models().items():
        used_by = [f"`{t.value}`" for t in EventType if t.model is model]
        heading = f"#### {name}" + (f" (the data of {', '.join(used_by)})" if used_by else "")
        parts.append(f"{heading}\n\n{model_table(model)}")
    return "\n\n".join(parts)


def render_errors() -> str:
    lines = [
        "| code | meaning | retried by the system | remediation (as a failure event carries it) |",
        "| --- | --- | --- | --- |",
    ]
    for code in ErrorCode:
        info = CATALOGUE[code]
        lines.append(
            f"| `{code.value}` | {_cell(info.meaning)} | {'yes' if info.retryable else 'no'} "
            f"| {_cell(info.remediation)} |"
        )
    return "\n".join(lines)


# --- the document -------------------------------------------------------------------------


def blocks() -> dict[str, Callable[[], str]]:
    return {
        "make": render_make,
        "ports": render_ports,
        "endpoints": render_endpoints,
        "topics": render_topics,
        "events": render_events,
        "errors": render_errors,
    }


def stale(text: str) -> list[str]:
    """What is out of date in ``text``: blocks that differ, are missing or are unknown."""
    renderers = blocks()
    present = {m.group("name"): m.group("body").strip("\n") for m in BLOCK.finditer(text)}
    problems = [f"no block {name!r} in the document" for name in renderers if name not in present]
    problems += [f"unknown block {name!r}" for name in present if name not in renderers]
    problems += [
        f"block {name!r} differs from the code"
        for name, body in present.items()
        if name in renderers and body != renderers[name]().strip("\n")
    ]
    return problems


def updated(text: str) -> str:
    """``text`` with every known block rendered afresh (unknown blocks are left as they are)."""
    renderers = blocks()

    def replace(match: re.Match[str]) -> str:
        render = renderers.get(match.group("name"))
        if render is None:
            return match.group(0)
        return f"{match.group('open')}{render().strip(chr(10))}\n{match.group('close')}"

    return BLOCK.sub(replace, text)


def render_all() -> str:
    return "\n\n".join(f"## {name}\n\n{render()}" for name, render in blocks().items()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contract_reference", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="update docs/contract.md in place")
    group.add_argument("--check", action="store_true", help="exit 1 when docs/contract.md is stale")
    parser.add_argument("--document", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(render_all())
        return 0
    text = args.document.read_text()
    if args.check:
        problems = stale(text)
        for problem in problems:
            print(f"{args.document}: {problem}")
        if problems:
            print("run: python -m local_infra.contract_reference --write")
        return 1 if problems else 0
    args.document.write_text(updated(text))
    missing = [p for p in stale(args.document.read_text()) if p.startswith("no block")]
    for problem in missing:
        print(f"{args.document}: {problem}: add `<!-- generated:NAME -->` markers for it")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
