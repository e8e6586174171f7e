"""Backward-compatibility check between two JSON Schemas of the same event type.

A consumer built against the old schema must still read events that follow the new one, and
the other way round. So: no property removed (a rename is a removal), none retyped, no optional
property made required, no new required property, no enum value removed.
"""

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every way ``new`` breaks readers or writers of ``old``; empty when compatible."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems)
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root["$defs"][name]
    return node


def _signature(node: Schema, root: Schema) -> Any:
    """The shape of a node that must not change: types, formats, patterns, nested shapes."""
    node = _resolve(node, root)
    if "anyOf" in node:
        return ("anyOf", sorted(repr(_signature(n, root)) for n in node["anyOf"]))
    kind = node.get("type")
    if kind == "object":
        return ("object",)
    if kind == "array":
        return ("array", _signature(node.get("items", {}), root))
    if "enum" in node:
        return ("enum", type(node["enum"][0]).__name__)
    return (kind, node.get("format"))


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str]
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if _signature(old, old_root) != _signature(new, new_root):
        out.append(f"{path or '<root>'}: type changed")
        return
    if "enum" in old:
        removed = set(old["enum"]) - set(new.get("enum", []))
        if removed:
            out.append(f"{path}: enum values removed: {sorted(removed)}")
    for branch_old, branch_new in zip(old.get("anyOf", []), new.get("anyOf", []), strict=False):
        _compare(branch_old, branch_new, old_root, new_root, path, out)
    if old.get("type") == "array":
        _compare(old.get("items", {}), new.get("items", {}), old_root, new_root, f"{path}[]", out)
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            out.append(f"{where}: removed")
            continue
        if name in new_req and name not in old_req:
            out.append(f"{where}: made required")
        _compare(old_prop, new_props[name], old_root, new_root, where, out)
    for name in sorted(new_req - old_req - set(old_props)):
        out.append(f"{path + '.' if path else ''}{name}: new required property")
