"""Generate the committed contract artefacts: JSON Schemas per event type and AsyncAPI 3.

    sync-schemas generate   # rewrite schemas/generated/ (refuses a breaking change)
    sync-schemas check      # exit 1 if schemas/generated/ is stale

A breaking change to a published type needs a new type version (``.v2``); pass
``--allow-breaking`` only for a type that has never been released.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from sync_schemas import topics
from sync_schemas.compat import breaking_changes
from sync_schemas.events import EventType

GENERATED_DIR = Path(__file__).resolve().parents[2] / "generated"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_CHANNELS: dict[str, tuple[str, str]] = {
    # topic: (channel id, description)
    topics.INVOICE_EVENTS: (
        "invoiceEvents",
        "Invoices as the invoicing system issues them, and requests to sync one now. Produced "
        "by the upstream system or invoice-events; consumed by invoice-events, xero-connector "
        "and sync-log.",
    ),
    topics.SYNC_RESULTS: (
        "syncResults",
        "One outcome per invoice sync attempt. Produced by xero-connector; consumed by sync-log.",
    ),
    topics.CONNECTIONS: (
        "xeroConnections",
        "Connection status changes of an organisation's Xero link. Produced by xero-connector; "
        "consumed by sync-log (the connector itself re-syncs what waited on the connection).",
    ),
    topics.INVOICE_EVENTS_DLQ: (
        "invoiceEventsDlq",
        "Records a consumer could not decode or validate: the original bytes and headers plus "
        "dlq_* headers saying why. Consumed by sync-log (recorded as invalid_event).",
    ),
}

_CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; consumers dedupe on it."},
        "ce_source": {"type": "string", "description": "The producing service, as a URI path."},
        "ce_type": {"type": "string", "enum": [t.value for t in EventType]},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "invoice_id, or org_id"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}

_DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original record's headers, plus these.",
    "required": ["dlq_reason", "dlq_error", "dlq_source_topic", "dlq_partition", "dlq_offset"],
    "properties": {
        "dlq_reason": {
            "type": "string",
            "enum": [
                "malformed_payload",
                "missing_attribute",
                "invalid_attribute",
                "unknown_event_type",
                "schema_violation",
                "processing_error",
            ],
        },
        "dlq_error": {"type": "string", "description": "Human-readable detail."},
        "dlq_source_topic": {"type": "string"},
        "dlq_partition": {"type": "string", "description": "Decimal integer."},
        "dlq_offset": {"type": "string", "description": "Decimal integer."},
    },
}


def _message_id(event_type: EventType) -> str:
    head, _, _version = event_type.value.rpartition(".")
    words = head.replace(".", "_").split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def event_json_schema(event_type: EventType) -> dict[str, Any]:
    schema = event_type.model.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:xero-sync:event:{event_type.value}",
        "title": event_type.value,
        "description": (schema.pop("description", "") or "").strip(),
        **{k: v for k, v in schema.items() if k != "title"},
        "x-topic": event_type.topic,
    }


def asyncapi_document() -> dict[str, Any]:
    models = sorted({t.model for t in EventType}, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(defs["$defs"])
    schemas["CloudEventHeaders"] = _CE_HEADERS
    schemas["DeadLetterHeaders"] = _DLQ_HEADERS

    messages: dict[str, Any] = {}
    channel_messages: dict[str, dict[str, Any]] = {topic: {} for topic in _CHANNELS}
    for event_type in EventType:
        mid = _message_id(event_type)
        messages[mid] = {
            "name": event_type.value,
            "title": event_type.value,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{event_type.model.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "org_id"}}},
        }
        channel_messages[event_type.topic][mid] = {"$ref": f"#/components/messages/{mid}"}
    messages["deadLetter"] = {
        "name": "dead_letter",
        "title": "A record that failed decoding or validation",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original value, byte for byte."},
    }
    channel_messages[topics.INVOICE_EVENTS_DLQ]["deadLetter"] = {
        "$ref": "#/components/messages/deadLetter"
    }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, (cid, description) in _CHANNELS.items():
        channels[cid] = {
            "address": topic,
            "description": description,
            "messages": channel_messages[topic],
            "bindings": {"kafka": {"partitions": topics.DEFAULT_PARTITIONS}},
        }
        for action in ("send", "receive"):
            operations[f"{action}{cid[0].upper()}{cid[1:]}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "messages": [
                    {"$ref": f"#/channels/{cid}/messages/{mid}"} for mid in channel_messages[topic]
                ],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Xero sync events",
            "version": "1.0.0",
            "description": "Invoice events, sync results and connection changes between "
            "invoice-events, xero-connector and sync-log. Keys are org_id.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single-node broker of make infra-up",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render_all() -> dict[str, str]:
    """Every artefact, as relative path -> file text."""
    files = {f"jsonschema/{t.value}.json": _dump(event_json_schema(t)) for t in EventType}
    files["asyncapi.json"] = _dump(asyncapi_document())
    return files


def stale_files(directory: Path = GENERATED_DIR) -> list[str]:
    return [
        name
        for name, text in render_all().items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]


def breaking_against(directory: Path = GENERATED_DIR) -> dict[str, list[str]]:
    """Breaking changes of the current models against the committed JSON Schemas."""
    result: dict[str, list[str]] = {}
    for event_type in EventType:
        committed = directory / "jsonschema" / f"{event_type.value}.json"
        if committed.is_file():
            problems = breaking_changes(
                json.loads(committed.read_text()), event_json_schema(event_type)
            )
            if problems:
                result[event_type.value] = problems
    return result


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sync-schemas", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--dir", type=Path, default=GENERATED_DIR)
    parser.add_argument("--allow-breaking", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "check":
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {name} (run: make schemas)", file=sys.stderr)
        return 1 if stale else 0

    breaking = breaking_against(args.dir)
    if breaking and not args.allow_breaking:
        for event_type, problems in breaking.items():
            for problem in problems:
                print(f"breaking: {event_type}: {problem}", file=sys.stderr)
        print("A breaking change needs a new event version (e.g. .v2).", file=sys.stderr)
        return 1
    for name, text in render_all().items():
        path = args.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(render_all())} files to {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
