"""The pure decisions: what a version means for a snapshot; what a repeated key means."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from invoice_events.decisions import (
    IngestAction,
    KeyAction,
    KeyRecord,
    KeyState,
    PublishState,
    Snapshot,
    StoredResponse,
    decide_ingest,
    decide_key,
    key_id,
    request_hash,
)
from sync_schemas import EventType
from tests.support.samples import invoice

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)
CREATED, UPDATED = EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED
PENDING, PUBLISHED = PublishState.PENDING, PublishState.PUBLISHED


def snap(
    version: int, state: PublishState, kind: EventType = UPDATED, age_s: float = 0
) -> Snapshot:
    return Snapshot(
        invoice=invoice(version=version),
        state=state,
        event_id="evt",
        event_type=kind,
        claim="c",
        claimed_at=NOW - timedelta(seconds=age_s),
    )


@pytest.mark.parametrize(
    ("current", "version", "action", "kind"),
    [
        (None, 1, IngestAction.PUBLISH, CREATED),
        (None, 9, IngestAction.PUBLISH, CREATED),
        (snap(1, PUBLISHED, CREATED), 2, IngestAction.PUBLISH, UPDATED),
        (snap(1, PENDING, UPDATED), 2, IngestAction.PUBLISH, UPDATED),
        (snap(1, PENDING, CREATED), 2, IngestAction.PUBLISH, UPDATED),
        (snap(2, PUBLISHED), 1, IngestAction.STALE, None),
        (snap(2, PENDING), 1, IngestAction.STALE, None),
        (snap(2, PUBLISHED), 2, IngestAction.DUPLICATE, None),
        (snap(2, PENDING, age_s=1), 2, IngestAction.IN_FLIGHT, None),
        (snap(2, PENDING, age_s=15), 2, IngestAction.TAKE_OVER, None),
        (snap(2, PENDING, age_s=600), 2, IngestAction.TAKE_OVER, None),
    ],
)
def test_decide_ingest(
    current: Snapshot | None, version: int, action: IngestAction, kind: EventType | None
) -> None:
    decision = decide_ingest(current, version, now=NOW, lease=LEASE)
    assert (decision.action, decision.event_type) == (action, kind)


TTL = timedelta(hours=24)
KEY = KeyRecord("k", "hash-a", KeyState.DONE, NOW - timedelta(seconds=5), "c",
                StoredResponse(202, {"event_id": "e"}))  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "hash_", "action"),
    [
        (None, "hash-a", KeyAction.PROCEED),
        (KEY, "hash-a", KeyAction.REPLAY),
        (KEY, "hash-b", KeyAction.MISMATCH),
        (replace(KEY, created_at=NOW - TTL), "hash-b", KeyAction.REPLACE),
        (replace(KEY, created_at=NOW - TTL), "hash-a", KeyAction.REPLACE),
        (replace(KEY, state=KeyState.IN_PROGRESS, response=None), "hash-a", KeyAction.IN_PROGRESS),
        (replace(KEY, state=KeyState.IN_PROGRESS, response=None), "hash-b", KeyAction.MISMATCH),
        (
            replace(KEY, state=KeyState.IN_PROGRESS, created_at=NOW - LEASE, response=None),
            "hash-a",
            KeyAction.TAKE_OVER,
        ),
    ],
)
def test_decide_key(stored: KeyRecord | None, hash_: str, action: KeyAction) -> None:
    assert decide_key(stored, hash_, now=NOW, ttl=TTL, lease=LEASE) is action


def test_request_hash_ignores_key_order_and_keys_are_scoped_by_caller_and_route() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert key_id("client-1", "invoices", "k") != key_id("client-2", "invoices", "k")
    assert key_id("client-1", "invoices", "k") != key_id("client-1", "batch", "k")
