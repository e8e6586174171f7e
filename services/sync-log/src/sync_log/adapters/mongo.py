"""The sync log in MongoDB: ``entries`` (one per event, ``_id`` = event id), ``invoices``
(current status, ``_id`` = "org/invoice"), ``connections`` (current status per org).

Writes touch documents by ``_id`` only, which every MongoDB-wire server serves from its
primary index (FerretDB v1 included). Invoice states carry a ``revision``: a state is written
only over the revision it was read at (see ``save_states``).
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service_kit.errors import retry_later_on
from service_kit.mongo import (
    bulk_write_chunked,
    find_by_ids,
    insert_new,
    pushes_down_indexes,
    reads_by_secondary_indexes,
)
from sync_log.domain import ConnectionChange, InvoiceState, LastError, Status
from sync_log.queries import (
    ENTRY_INDEXES,
    ENTRY_TIME,
    INVOICE_INDEXES,
    LOCAL_INVOICE_INDEXES,
)

Doc = dict[str, Any]
log = structlog.get_logger(__name__)


@retry_later_on(PyMongoError)
class MongoSyncLog:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db
        self._entries = db["entries"]
        self._invoices = db["invoices"]
        self._connections = db["connections"]

    async def ensure_indexes(self) -> None:
        """The indexes of the read API's queries, on servers that read through them: all of
        them on MongoDB, those of the operator's invoice views on the project's FerretDB."""
        if await reads_by_secondary_indexes(self._db):
            for index in ENTRY_INDEXES:
                await self._entries.create_index(index)
            for index in INVOICE_INDEXES:
                await self._invoices.create_index(index)
        elif await pushes_down_indexes(self._db):
            for index in LOCAL_INVOICE_INDEXES:
                await self._invoices.create_index(index)
        else:
            log.info("secondary indexes skipped: the server reads by _id only")

    # -- writes ---------------------------------------------------------------------------

    async def insert_entries(self, entries: Sequence[Doc]) -> dict[str, datetime]:
        """Insert new entries. Returns the ones already stored (same event id), with the time
        they were first recorded at."""
        repeated = [entries[i]["_id"] for i in await insert_new(self._entries, entries)]
        if not repeated:
            return {}
        stored = await find_by_ids(self._entries, repeated)
        return {event_id: doc["occurred_at"] for event_id, doc in stored.items()}

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]:
        docs = await find_by_ids(self._invoices, keys)
        return {key: state_from_doc(doc) for key, doc in docs.items()}

    async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
        """Compare-and-set: each state is written only over the revision it was read at (a
        new one only where none exists). Returns the keys whose write lost to another
        writer's (one organisation on two writers: a rolling restart, a mismatched producer);
        the caller folds those again on what is stored now."""
        token = uuid.uuid4().hex  # whose write is stored, when revisions alone cannot say
        new: list[tuple[InvoiceState, Doc]] = []
        old: list[tuple[InvoiceState, Doc]] = []
        for state in states:
            doc = state_to_doc(state, now) | {"revision": state.revision + 1, "writer": token}
            (new if state.revision == 0 else old).append((state, {"_id": state.key} | doc))
        lost: set[str] = set()
        taken = await insert_new(self._invoices, [doc for _, doc in new])
        lost |= {new[i][0].key for i in taken}
        ops = [ReplaceOne({"_id": s.key, "revision": s.revision}, doc) for s, doc in old]
        matched = await bulk_write_chunked(self._invoices, ops)
        if matched < len(ops):
            stored = await find_by_ids(self._invoices, [s.key for s, _ in old])
            lost |= {s.key for s, _ in old if stored.get(s.key, {}).get("writer") != token}
        return lost

    async def save_connection(self, change: ConnectionChange) -> None:
        current = await self._connections.find_one({"_id": change.org_id})
        if current is not None and current["changed_at"] > change.occurred_at:
            return  # a late, older change
        await self._connections.replace_one(
            {"_id": change.org_id},
            {
                "org_id": change.org_id,
                "status": change.status.value,
                "tenant_id": change.tenant_id,
                "tenant_name": change.tenant_name,
                "reason": change.reason,
                "changed_at": change.occurred_at,
                "event_id": change.event_id,
            },
            upsert=True,
        )

    async def delete_entries_before(self, cutoff: datetime) -> int:
        result = await self._entries.delete_many({ENTRY_TIME: {"$lt": cutoff}})
        return result.deleted_count


def state_to_doc(state: InvoiceState, now: datetime) -> Doc:
    return {
        "org_id": state.org_id,
        "invoice_id": state.invoice_id,
        "invoice_number": state.invoice_number,
        "version": state.version,
        "status": state.status.value,
        "status_at": state.status_at,
        "error_code": state.error_code,
        "xero_invoice_id": state.xero_invoice_id,
        "last_error": state.last_error.as_dict() if state.last_error else None,
        "batch_ids": list(state.batch_ids),
        "status_event_id": state.status_event_id,
        "answered": list(state.answered),
        "revision": state.revision,
        "written_at": now,  # the document's write time (before issue 16: "updated_at")
    }


def state_from_doc(doc: Doc) -> InvoiceState:
    error = doc.get("last_error")
    return InvoiceState(
        org_id=doc["org_id"],
        invoice_id=doc["invoice_id"],
        invoice_number=doc.get("invoice_number"),
        version=doc["version"],
        status=Status(doc["status"]),
        status_at=doc["status_at"],
        xero_invoice_id=doc.get("xero_invoice_id"),
        last_error=LastError(
            error_code=error["error_code"],
            message=error["message"],
            xero_messages=tuple(error.get("xero_messages", ())),
            remediation=error["remediation"],
            occurred_at=error["occurred_at"],
        )
        if error
        else None,
        batch_ids=tuple(doc.get("batch_ids", ())),
        status_event_id=doc.get("status_event_id"),
        answered=tuple(doc.get("answered") or ()),
        revision=int(doc.get("revision") or 0),
    )
