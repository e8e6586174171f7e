"""The envelope decoder against anything a Kafka topic can hold: it returns an event that
re-encodes to itself, or raises an EnvelopeError with a reason — never anything else.

And the other way round: every valid Invoice, extreme ones included, survives encode + decode.
"""

import json
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sync_schemas import CloudEvent, EnvelopeError, EventType, Invoice, decode, encode, new_event
from sync_schemas.envelope import REQUIRED_ATTRIBUTES
from tests.reliability.bad_input.strategies import valid_invoices
from tests.support.samples import CONTRACT_INVOICE, sample_data

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASONS = {
    "malformed_payload",
    "missing_attribute",
    "invalid_attribute",
    "unknown_event_type",
    "schema_violation",
}
HEADER_NAMES = [*REQUIRED_ATTRIBUTES, "ce_time", "ce_subject", "content-type", "CE_TYPE", "x"]
EVENT_TYPES = [t.value for t in EventType]


def valid_record(event_type: EventType) -> tuple[bytes, list[tuple[str, bytes]]]:
    record = encode(new_event(event_type, sample_data(event_type), source="/tests"))
    return record.value, record.headers


def decode_or_reason(value: bytes | None, headers: Any) -> CloudEvent[Any] | str:
    """The decoded event, or the reason of the EnvelopeError; any other exception fails."""
    try:
        event = decode(value, headers)
    except EnvelopeError as error:
        refused = error
    else:
        record = encode(event)
        assert decode(record.value, record.headers) == event
        label("decoded")
        return event
    label(refused.reason)
    assert refused.reason in REASONS, refused.reason
    assert str(refused), f"{type(refused).__name__} without a message"
    return refused.reason


def label(outcome: str) -> None:
    """Counted in --hypothesis-show-statistics, to see which outcomes the inputs reach."""
    if hypothesis.currently_in_test_context():
        hypothesis.event(outcome)


header_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"1.0", b"0.3", b"", b"\xff\xfe", b"2026-11-20T10:00:00Z", b"text/plain"]),
    st.sampled_from(EVENT_TYPES).map(str.encode),
    st.none(),
)


@st.composite
def mutated_headers(draw: st.DrawFn) -> list[tuple[str, bytes | None]]:
    """A valid event's headers with some dropped, replaced or added."""
    _, valid = valid_record(draw(st.sampled_from(list(EventType))))
    headers: list[tuple[str, bytes | None]] = list(valid)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(headers)))
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop" and i < len(headers):
            del headers[i]
        elif action == "replace" and i < len(headers):
            headers[i] = (headers[i][0], draw(header_values))
        else:
            headers.insert(i, (draw(st.sampled_from(HEADER_NAMES)), draw(header_values)))
    return headers


raw_headers = st.one_of(
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=10),
    mutated_headers(),
)


@SETTINGS
@given(
    value=st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.sampled_from(list(EventType)).map(lambda t: valid_record(t)[0]),
    ),
    headers=raw_headers,
)
@example(value=None, headers=[])
@example(value=b"\x00not json", headers=valid_record(EventType.INVOICE_CREATED)[1])
@example(
    value=valid_record(EventType.INVOICE_CREATED)[0],
    headers=[*valid_record(EventType.INVOICE_CREATED)[1], ("ce_type", b"invoice.deleted.v1")],
)
def test_arbitrary_bytes_and_headers_decode_or_raise_a_reason(
    value: bytes | None, headers: list[tuple[str, bytes | None]]
) -> None:
    decode_or_reason(value, headers)


@SETTINGS
@given(
    headers=st.dictionaries(
        st.sampled_from(HEADER_NAMES),
        st.one_of(st.text(max_size=30), st.sampled_from(EVENT_TYPES), st.just("1.0")),
    ),
    value=st.binary(max_size=100),
)
def test_a_text_header_mapping_decodes_or_raises_a_reason(
    headers: dict[str, str], value: bytes
) -> None:
    decode_or_reason(value, headers)


@SETTINGS
@given(event_type=st.sampled_from(list(EventType)), cut=st.integers(min_value=0), data=st.data())
def test_a_truncated_valid_event_is_malformed_or_missing_header(
    event_type: EventType, cut: int, data: st.DataObject
) -> None:
    value, headers = valid_record(event_type)
    kept_value = value[: cut % len(value)]  # strictly shorter than the original
    kept_headers = headers[: data.draw(st.integers(0, len(headers)))]
    outcome = decode_or_reason(kept_value, kept_headers)
    if len(kept_headers) < len(REQUIRED_ATTRIBUTES):
        assert outcome == "missing_attribute"
    else:
        assert outcome == "malformed_payload"


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(["", "1e400", "-1", "999999999999999999999", "\u202e", "\x00"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a field or item of a JSON document."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, (dict, list)):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            found.append((*prefix, key))
            found.extend(paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """The document with a few fields replaced by arbitrary JSON, deleted or added."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 4))):
        targets = paths(document)
        if not targets:
            break
        *parent_path, key = draw(st.sampled_from(targets))
        parent = document
        for step in parent_path:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
    return document


@SETTINGS
@given(event_type=st.sampled_from(list(EventType)), data=st.data())
def test_valid_json_with_mutated_fields_decodes_or_is_a_schema_violation(
    event_type: EventType, data: st.DataObject
) -> None:
    value, headers = valid_record(event_type)
    document = data.draw(mutated(json.loads(value)))
    outcome = decode_or_reason(json.dumps(document).encode(), headers)
    if isinstance(outcome, str):
        assert outcome in {"schema_violation", "malformed_payload"}
        assert outcome == "schema_violation" or not isinstance(document, dict)


@SETTINGS
@given(invoice=valid_invoices(), event_type=st.sampled_from(list(EventType)[:2]))
def test_every_valid_invoice_round_trips(invoice: Invoice, event_type: EventType) -> None:
    event = new_event(event_type, invoice, source="/tests")
    record = encode(event)
    assert decode(record.value, record.headers) == event
    assert record.key == invoice.org_id.encode()


AMOUNTS = {("lines", 0, "quantity"), ("lines", 0, "unit_price")}


@SETTINGS
@given(
    quantity=st.decimals(allow_nan=False, allow_infinity=False),
    unit_price=st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.sampled_from([Decimal("1E+999999999"), Decimal("-1E-999999999"), Decimal("0E+20")]),
    ),
)
@example(quantity=Decimal("1E+30"), unit_price=Decimal("1.50"))
@example(quantity=Decimal("1.0000000"), unit_price=Decimal("1.50"))
def test_an_invoice_built_with_decimal_objects_is_refused_or_round_trips(
    quantity: Decimal, unit_price: Decimal
) -> None:
    """A producer in Python passes Decimals, not strings: what the model accepts must be what
    its own encoding decodes to, or every consumer dead-letters the producer's event."""
    line = {"description": "x", "quantity": quantity, "unit_price": unit_price}
    try:
        invoice = Invoice.model_validate(CONTRACT_INVOICE | {"lines": [line]})
    except ValidationError as error:
        refused = error
    else:
        event = new_event(EventType.INVOICE_CREATED, invoice, source="/tests")
        record = encode(event)
        assert decode(record.value, record.headers) == event
        return
    # Refused: only for the amount a Decimal carried, never for another field.
    assert {e["loc"][:3] for e in refused.errors()} <= AMOUNTS, refused


def test_an_invoice_of_10_000_lines_round_trips() -> None:
    line = {"description": "\u202eRTL \x00 line", "quantity": "-1.5", "unit_price": "0.000001"}
    invoice = Invoice.model_validate(
        sample_data(EventType.INVOICE_CREATED).model_dump() | {"lines": [line] * 10_000}
    )
    event = new_event(EventType.INVOICE_CREATED, invoice, source="/tests")
    record = encode(event)
    assert decode(record.value, record.headers) == event


@pytest.mark.parametrize(
    "document",
    [
        "[" * 100_000,  # deeper than the JSON parser recurses
        '{"a": ' * 100_000,
        '"' + "x" * 1_000_000 + '"',
        '{"version": 1e999}',
        "NaN",
    ],
    ids=["deep-array", "deep-object", "huge-string", "infinite-number", "nan"],
)
def test_pathological_json_is_a_reason_not_a_crash(document: str) -> None:
    _, headers = valid_record(EventType.INVOICE_CREATED)
    assert isinstance(decode_or_reason(document.encode(), headers), str)
