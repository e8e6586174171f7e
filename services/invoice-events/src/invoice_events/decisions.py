"""Pure decisions of the service: what an incoming invoice version means, what a repeated
``Idempotency-Key`` means. No I/O here; service.py acts on the answers.

    decide_ingest(current_snapshot, 3, now=now, lease=timedelta(seconds=15))
    decide_key(stored_key, request_hash, now=now, ttl=timedelta(days=1), lease=...)
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sync_schemas import EventType, Invoice


class PublishState(StrEnum):
    PENDING = "pending"  # claimed: the event is decided but not known to be on Kafka yet
    PUBLISHED = "published"  # the event carrying this version is on Kafka


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest known version of one invoice and the event that carries it."""

    invoice: Invoice
    state: PublishState
    event_id: str
    event_type: EventType
    claim: str  # changes on every claim or take-over: the compare-and-set token
    claimed_at: datetime

    @property
    def version(self) -> int:
        return self.invoice.version


class IngestAction(StrEnum):
    PUBLISH = "publish"  # claim the new version, then publish a new event
    TAKE_OVER = "take_over"  # a pending claim outlived its lease: publish its event again
    IN_FLIGHT = "in_flight"  # the same version is being published by someone else right now
    DUPLICATE = "duplicate"  # the same version is already published
    STALE = "stale"  # an older version than the snapshot's


@dataclass(frozen=True, slots=True)
class IngestDecision:
    action: IngestAction
    event_type: EventType | None = None  # for PUBLISH only


def decide_ingest(
    current: Snapshot | None, version: int, *, now: datetime, lease: timedelta
) -> IngestDecision:
    """What to do with ``version`` of an invoice whose snapshot is ``current``."""
    if current is None:
        return IngestDecision(IngestAction.PUBLISH, EventType.INVOICE_CREATED)
    if version > current.version:
        return IngestDecision(IngestAction.PUBLISH, EventType.INVOICE_UPDATED)
    if version < current.version:
        return IngestDecision(IngestAction.STALE)
    if current.state is PublishState.PUBLISHED:
        return IngestDecision(IngestAction.DUPLICATE)
    if now - current.claimed_at >= lease:
        return IngestDecision(IngestAction.TAKE_OVER)
    return IngestDecision(IngestAction.IN_FLIGHT)


class KeyState(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What is remembered of one Idempotency-Key."""

    key_id: str
    request_hash: str
    state: KeyState
    created_at: datetime
    claim: str
    response: StoredResponse | None = None


class KeyAction(StrEnum):
    PROCEED = "proceed"  # first use: run the request and remember its answer
    REPLACE = "replace"  # the stored key expired: forget it and proceed
    TAKE_OVER = "take_over"  # the first request died mid-way: run it again
    REPLAY = "replay"  # answer with the stored response, do nothing else
    MISMATCH = "mismatch"  # same key, different request: refuse (422)
    IN_PROGRESS = "in_progress"  # the first request is still running: refuse (409)


def decide_key(
    stored: KeyRecord | None,
    request_hash: str,
    *,
    now: datetime,
    ttl: timedelta,
    lease: timedelta,
) -> KeyAction:
    if stored is None:
        return KeyAction.PROCEED
    if now - stored.created_at >= ttl:
        return KeyAction.REPLACE
    if stored.request_hash != request_hash:
        return KeyAction.MISMATCH
    if stored.state is KeyState.DONE:
        return KeyAction.REPLAY
    if now - stored.created_at >= lease:
        return KeyAction.TAKE_OVER
    return KeyAction.IN_PROGRESS


def key_id(principal: str, route: str, key: str) -> str:
    """Keys are scoped to the caller and the route: two clients may pick the same key."""
    return hashlib.sha256(f"{principal}\0{route}\0{key}".encode()).hexdigest()


def request_hash(payload: Any) -> str:
    """A fingerprint of a request body that ignores key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
