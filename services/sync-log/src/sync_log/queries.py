"""Filters and paging of the query API, turned into MongoDB filters (pure, no I/O).

Both listings are newest first with keyset paging on (time, _id): a cursor names the last row
seen, so rows inserted meanwhile never shift a page (no gap, no repeat).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_log.domain import Status


class InvalidCursor(ValueError):
    """The cursor was not produced by this API (or was altered)."""


@dataclass(frozen=True, slots=True)
class Filters:
    org_id: str | None = None
    status: Status | None = None
    error_codes: tuple[str, ...] = ()  # any of (none: every code, and none)
    invoice_id: str | None = None
    invoice_number: str | None = None
    batch_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        try:
            padded = token + "=" * (-len(token) % 4)
            at, ident = json.loads(base64.urlsafe_b64decode(padded))
            return cls(datetime.fromisoformat(at), str(ident))
        except (ValueError, TypeError, binascii.Error):
            raise InvalidCursor("cursor is not valid: pass next_cursor unchanged") from None


# Each listing: the time field it sorts and pages on, and the field holding batch membership.
ENTRY_TIME, INVOICE_TIME = "occurred_at", "status_at"


def entry_filter(filters: Filters, cursor: Cursor | None) -> dict[str, Any]:
    return _filter(filters, cursor, ENTRY_TIME, batch_field="batch_id")


def invoice_filter(filters: Filters, cursor: Cursor | None) -> dict[str, Any]:
    return _filter(filters, cursor, INVOICE_TIME, batch_field="batch_ids")


def _filter(
    filters: Filters, cursor: Cursor | None, time_field: str, batch_field: str
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    equal = {
        "org_id": filters.org_id,
        "status": filters.status.value if filters.status else None,
        "error_code": _one_of(filters.error_codes),
        "invoice_id": filters.invoice_id,
        "invoice_number": filters.invoice_number,
        batch_field: filters.batch_id,  # on invoices an array: matches membership
    }
    query |= {k: v for k, v in equal.items() if v is not None}
    window: dict[str, datetime] = {}
    if filters.since:
        window["$gte"] = filters.since
    if filters.until:
        window["$lt"] = filters.until
    if window:
        query[time_field] = window
    if cursor:
        query["$or"] = [
            {time_field: {"$lt": cursor.at}},
            {time_field: cursor.at, "_id": {"$lt": cursor.id}},
        ]
    return query


def _one_of(values: tuple[str, ...]) -> str | dict[str, list[str]] | None:
    """One value as an equality (so the indexes on it serve it), several as ``$in``."""
    if not values:
        return None
    if len(set(values)) == 1:
        return values[0]
    return {"$in": sorted(set(values))}


def sort_spec(time_field: str) -> list[tuple[str, int]]:
    return [(time_field, -1), ("_id", -1)]


# The indexes that serve the filters above. A filter on a selective field (an invoice, an
# invoice number, a batch) is served by an index that starts with it: the few matching rows are
# sorted in memory. Any other combination needs its equality fields as the index's prefix,
# followed by the sort (MongoDB's equality-sort-range rule). FerretDB v1, the local server,
# reads by _id only and scans otherwise; see the README.
SELECTIVE = ("invoice_id", "invoice_number", "batch_id", "batch_ids")


def _indexes(time_field: str, batch_field: str) -> list[list[tuple[str, int]]]:
    by_time = sort_spec(time_field)
    return [
        by_time,
        [("org_id", 1), *by_time],
        [("org_id", 1), ("status", 1), *by_time],
        [("org_id", 1), ("error_code", 1), *by_time],
        [("org_id", 1), ("status", 1), ("error_code", 1), *by_time],
        [("status", 1), *by_time],
        [("error_code", 1), *by_time],
        [("status", 1), ("error_code", 1), *by_time],
        [("invoice_id", 1), ("org_id", 1), *by_time],
        [("invoice_number", 1), *by_time],
        [(batch_field, 1), *by_time],
    ]


ENTRY_INDEXES = _indexes(ENTRY_TIME, "batch_id")
INVOICE_INDEXES = _indexes(INVOICE_TIME, "batch_ids")

# On the project's FerretDB build (the default local store), only the indexes of the operator's
# invoice views: one organisation's newest, by status, by error code, by invoice number, and
# the health counts (a covering index for counts by status and error code). That build reads
# equality and sort through them (deploy/local/ferretdb/sqlite-patch); each index costs every
# write, so the rest are left to MongoDB.
LOCAL_INVOICE_INDEXES = [
    index
    for index in INVOICE_INDEXES
    if [name for name, _ in index][:-2]
    in (
        ["org_id"],
        ["org_id", "status"],
        ["org_id", "error_code"],
        ["org_id", "status", "error_code"],
        ["invoice_number"],
    )
]


def serving_index(
    query: dict[str, Any], time_field: str, indexes: list[list[tuple[str, int]]]
) -> list[tuple[str, int]] | None:
    """The index that serves ``query`` sorted by ``time_field``, or None."""
    equality = {k for k, v in query.items() if not k.startswith("$") and not isinstance(v, dict)}
    selective = [name for name in SELECTIVE if name in equality]
    for index in indexes:
        fields = [name for name, _ in index]
        if selective:
            if fields[0] == selective[0]:
                return index
        elif set(fields[: len(equality)]) == equality and fields[len(equality)] == time_field:
            return index
    return None
