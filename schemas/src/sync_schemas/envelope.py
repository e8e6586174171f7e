"""CloudEvents 1.0 over Kafka, binary content mode.

The Kafka value is the JSON ``data``; the attributes travel as ``ce_*`` headers plus
``content-type``; the key is the ``org_id`` so one organisation's events stay ordered.

    record = encode(new_event(EventType.INVOICE_CREATED, invoice, source="/invoice-events"))
    await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
    ...
    event = decode(msg.value, msg.headers)   # raises an EnvelopeError subclass on bad input

Decoding errors, each with a stable ``reason`` (used as the DLQ's ``dlq_reason`` header):

=====================  =====================  ===============================================
class                  reason                 when
=====================  =====================  ===============================================
MalformedPayload       ``malformed_payload``  the value is empty, not UTF-8 JSON, or not an object
MissingAttribute       ``missing_attribute``  a required ``ce_*`` header is absent
InvalidAttribute       ``invalid_attribute``  a header is present but unusable (specversion,
                                              time, content-type)
UnknownEventType       ``unknown_event_type`` ``ce_type`` names no event of the contract
SchemaViolation        ``schema_violation``   the data does not validate against the type's model
=====================  =====================  ===============================================
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from sync_schemas.events import EventType

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_ATTRIBUTES = ("ce_specversion", "ce_id", "ce_source", "ce_type")

D = TypeVar("D", bound=BaseModel)

RawHeaders = Mapping[str, str | bytes] | Iterable[tuple[str, bytes | str | None]]


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid event of the contract."""

    reason: ClassVar[str] = "invalid_event"


class MalformedPayload(EnvelopeError):
    reason = "malformed_payload"


class MissingAttribute(EnvelopeError):
    reason = "missing_attribute"


class InvalidAttribute(EnvelopeError):
    reason = "invalid_attribute"


class UnknownEventType(EnvelopeError):
    reason = "unknown_event_type"


class SchemaViolation(EnvelopeError):
    reason = "schema_violation"

    def __init__(self, event_type: str, errors: list[dict[str, Any]]) -> None:
        self.event_type = event_type
        self.errors = errors
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:10]
        )
        super().__init__(f"{event_type} data is invalid: {fields}")


@dataclass(frozen=True, slots=True)
class CloudEvent(Generic[D]):
    """One event: its CloudEvents attributes and its validated ``data``."""

    id: str
    source: str
    type: EventType
    time: datetime
    subject: str | None
    data: D

    @property
    def org_id(self) -> str:
        org_id: str = getattr(self.data, "org_id")  # noqa: B009 - every payload has one
        return org_id


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What a producer sends: topic, key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def new_event(
    event_type: EventType,
    data: D,
    *,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[D]:
    """A new event with a fresh id and the current time; ``data`` must match the type."""
    model = event_type.model
    if not isinstance(data, model):
        raise TypeError(f"{event_type} carries {model.__name__}, not {type(data).__name__}")
    if subject is None:
        subject = getattr(data, "invoice_id", None)
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        data=data,
    )


def encode(event: CloudEvent[Any]) -> KafkaRecord:
    headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.value.encode()),
        ("ce_time", event.time.isoformat().encode()),
    ]
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    headers.append(("content-type", CONTENT_TYPE.encode()))
    return KafkaRecord(
        topic=event.type.topic,
        key=event.org_id.encode(),
        value=event.data.model_dump_json().encode(),
        headers=headers,
    )


def decode(
    value: bytes | None, headers: RawHeaders, *, record_time: datetime | None = None
) -> CloudEvent[Any]:
    """Decode a Kafka record into a validated event, or raise an :class:`EnvelopeError`.

    ``ce_time`` is optional in CloudEvents: without it the event's time is ``record_time``
    (the Kafka record's timestamp, set when it was produced), never the reader's clock, so a
    lagging reader does not make an old event look new."""
    attrs = _header_map(headers)
    for name in REQUIRED_ATTRIBUTES:
        if not attrs.get(name):
            raise MissingAttribute(f"required header {name!r} is missing")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise InvalidAttribute(f"ce_specversion {attrs['ce_specversion']!r} is not {SPEC_VERSION}")
    content_type = attrs.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise InvalidAttribute(f"content-type {content_type!r} is not {CONTENT_TYPE}")
    try:
        event_type = EventType(attrs["ce_type"])
    except ValueError:
        raise UnknownEventType(f"ce_type {attrs['ce_type']!r} is not an event type") from None
    time = _parse_time(attrs.get("ce_time"), record_time)
    payload = _parse_json_object(value)
    try:
        data = event_type.model.model_validate(payload)
    except ValidationError as exc:
        raise SchemaViolation(event_type.value, _jsonable_errors(exc)) from None
    return CloudEvent(
        id=attrs["ce_id"],
        source=attrs["ce_source"],
        type=event_type,
        time=time,
        subject=attrs.get("ce_subject"),
        data=data,
    )


def _header_map(headers: RawHeaders) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, str] = {}
    for name, raw in items:
        if raw is None:
            continue
        try:
            result[name.lower()] = raw.decode() if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            raise InvalidAttribute(f"header {name!r} is not UTF-8") from None
    return result


def _parse_time(raw: str | None, record_time: datetime | None) -> datetime:
    if raw is None:
        return record_time if record_time is not None else datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidAttribute(f"ce_time {raw!r} is not an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_json_object(value: bytes | None) -> dict[str, Any]:
    if not value:
        raise MalformedPayload("the record has no value")
    try:
        payload = json.loads(value)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedPayload(f"the value is not UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedPayload(f"the value is JSON {type(payload).__name__}, not an object")
    return payload


def _jsonable_errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Drop the offending input: it may be large or hold data that must not reach a DLQ header.
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
