"""The backward-compatibility checker catches each kind of breaking change."""

import copy
from typing import Any

import pytest

from sync_schemas.compat import breaking_changes

BASE: dict[str, Any] = {
    "type": "object",
    "required": ["org_id", "lines"],
    "properties": {
        "org_id": {"type": "string"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "status": {"$ref": "#/$defs/Status"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
    },
    "$defs": {
        "Status": {"type": "string", "enum": ["draft", "issued", "void"]},
        "Line": {
            "type": "object",
            "required": ["quantity"],
            "properties": {"quantity": {"type": "string"}, "tax_code": {"type": "string"}},
        },
    },
}


def changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_adding_an_optional_field_or_enum_value_is_compatible() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["reference"] = {"type": "string"}
        s["$defs"]["Status"]["enum"].append("paid")
        s["$defs"]["Line"]["properties"]["discount"] = {"type": "string"}

    assert breaking_changes(BASE, changed(edit)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["properties"].pop("note"), "note: removed"),
        (
            lambda s: s["properties"].__setitem__("memo", s["properties"].pop("note")),
            "note: removed",
        ),
        (
            lambda s: s["properties"].__setitem__("org_id", {"type": "integer"}),
            "org_id: type changed",
        ),
        (
            lambda s: s["properties"].__setitem__("note", {"type": "string"}),
            "note: type changed",
        ),
        (lambda s: s["required"].append("note"), "note: made required"),
        (
            lambda s: (
                s["properties"].__setitem__("extra", {"type": "string"}),
                s["required"].append("extra"),
            ),
            "extra: new required property",
        ),
        (lambda s: s["$defs"]["Status"]["enum"].remove("void"), "status: enum values removed"),
        (
            lambda s: s["$defs"]["Line"]["properties"].pop("tax_code"),
            "lines[].tax_code: removed",
        ),
        (
            lambda s: s["$defs"]["Line"]["properties"].__setitem__("quantity", {"type": "number"}),
            "lines[].quantity: type changed",
        ),
    ],
    ids=[
        "removed",
        "renamed",
        "retyped",
        "nullable-to-string",
        "made-required",
        "new-required",
        "enum-value-removed",
        "nested-removed",
        "nested-retyped",
    ],
)
def test_breaking_change_is_reported(edit: Any, expected: str) -> None:
    problems = breaking_changes(BASE, changed(edit))
    assert any(p.startswith(expected) for p in problems), problems
