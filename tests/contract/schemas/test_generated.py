"""The committed JSON Schemas and AsyncAPI document are current, compatible and valid."""

import json
from typing import Any

import jsonschema
import pytest

from sync_schemas import EventType, encode, new_event, topics
from sync_schemas.generate import (
    GENERATED_DIR,
    asyncapi_document,
    breaking_against,
    stale_files,
)
from tests.support.samples import sample_data


def committed_schema(event_type: EventType) -> dict[str, Any]:
    path = GENERATED_DIR / "jsonschema" / f"{event_type.value}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_committed_artefacts_are_not_stale() -> None:
    assert stale_files() == [], "run `make schemas` and commit schemas/generated/"


def test_models_stay_backward_compatible_with_committed_schemas() -> None:
    assert breaking_against() == {}, "a breaking change needs a new event version (.v2)"


def test_breaking_change_is_detected_against_committed_schemas(tmp_path: Any) -> None:
    # Simulate a committed schema that had a field the current model no longer has.
    target = tmp_path / "jsonschema"
    target.mkdir()
    schema = committed_schema(EventType.XERO_CONNECTION_CHANGED)
    schema["properties"]["region"] = {"type": "string"}
    (target / "xero.connection_changed.v1.json").write_text(json.dumps(schema))
    assert breaking_against(tmp_path) == {"xero.connection_changed.v1": ["region: removed"]}


@pytest.mark.parametrize("event_type", list(EventType))
def test_committed_schema_is_valid_and_accepts_a_real_event(event_type: EventType) -> None:
    schema = committed_schema(event_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    value = encode(new_event(event_type, sample_data(event_type), source="/t")).value
    jsonschema.Draft202012Validator(schema).validate(json.loads(value))


def test_committed_schema_rejects_an_invalid_event() -> None:
    schema = committed_schema(EventType.INVOICE_CREATED)
    bad = json.loads(sample_data(EventType.INVOICE_CREATED).model_dump_json())
    bad["lines"][0]["unit_price"] = 150
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_describes_every_topic_and_event_with_resolvable_refs() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(topics.ALL_TOPICS)
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {t.value for t in EventType} <= names
    for ref in _refs(doc):
        _resolve(doc, ref)  # raises KeyError when dangling
    for op in doc["operations"].values():
        assert op["action"] in {"send", "receive"} and op["messages"]
