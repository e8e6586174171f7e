"""MongoDB stores: invoice snapshots, idempotency keys, resync batches.

    stores = await MongoStores.open(client["invoice_events"])   # creates the indexes
    await stores.snapshots.get("org_acme", "inv_1")

Compare-and-set writes filter on ``_id`` and the ``claim`` token read before; FerretDB v1 has
no transactions, so these single-document conditional writes are the only atomicity used.
A lost connection raises :class:`StoreUnavailable`.

Cost on FerretDB v1 (SQLite): only an exact ``{_id: value}`` filter is served by the primary
key; a compound filter (the compare-and-set, the batched mark, the sweeper's query) scans the
collection. Reads and first-sight inserts, the hot path, are therefore by ``_id`` only; marks
are batched into one update per flush. On MongoDB every one of these filters uses ``_id``'s
index (and the sweeper its own).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from invoice_events.decisions import KeyRecord, KeyState, PublishState, Snapshot, StoredResponse
from invoice_events.ports import Key, Mark, ResyncBatch
from service_kit.errors import RetryLater, retry_later_on
from service_kit.keys import invoice_key
from service_kit.mongo import find_by_ids, insert_if_new, insert_new
from sync_schemas import EventType, Invoice, SyncReason

Document = dict[str, Any]


class StoreUnavailable(RetryLater):
    """MongoDB cannot be reached."""


# ConnectionFailure includes timeouts and server selection; other errors are bugs here.
_translated = retry_later_on(ConnectionFailure, as_=StoreUnavailable)


class MongoSnapshotStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def get(self, org_id: str, invoice_id: str) -> Snapshot | None:
        with _translated:
            doc = await self._c.find_one({"_id": invoice_key(org_id, invoice_id)})
        return _to_snapshot(doc) if doc else None

    async def get_by_keys(self, keys: Sequence[Key]) -> dict[Key, Snapshot]:
        with _translated:
            docs = await find_by_ids(self._c, [invoice_key(*key) for key in keys])
        return {key: _to_snapshot(doc) for key in keys if (doc := docs.get(invoice_key(*key)))}

    async def insert(self, snapshot: Snapshot) -> bool:
        with _translated:
            return await insert_if_new(self._c, _from_snapshot(snapshot))

    async def insert_many(self, snapshots: Sequence[Snapshot]) -> list[bool]:
        with _translated:
            taken = set(await insert_new(self._c, [_from_snapshot(s) for s in snapshots]))
        return [i not in taken for i in range(len(snapshots))]

    async def replace_if(self, expected_claim: str, snapshot: Snapshot) -> bool:
        doc = _from_snapshot(snapshot)
        with _translated:
            result = await self._c.replace_one({"_id": doc["_id"], "claim": expected_claim}, doc)
        return result.matched_count == 1

    async def mark_published(self, marks: Sequence[Mark]) -> None:
        # One update for all: a snapshot matches only with its own event id, as event ids
        # are unique per claim.
        query = {
            "_id": {"$in": [invoice_key(org, invoice) for org, invoice, _ in marks]},
            "event_id": {"$in": [event_id for _, _, event_id in marks]},
            "state": PublishState.PENDING.value,
        }
        with _translated:
            await self._c.update_many(query, {"$set": {"state": PublishState.PUBLISHED.value}})

    async def stale_pending(self, claimed_before: datetime, limit: int) -> list[Snapshot]:
        query = {"state": PublishState.PENDING.value, "claimed_at": {"$lte": claimed_before}}
        with _translated:
            docs = await self._c.find(query).limit(limit).to_list()
        return [_to_snapshot(doc) for doc in docs]


def _from_snapshot(snapshot: Snapshot) -> Document:
    invoice = snapshot.invoice
    return {
        "_id": invoice_key(invoice.org_id, invoice.invoice_id),
        "org_id": invoice.org_id,
        "invoice_id": invoice.invoice_id,
        "version": invoice.version,
        "invoice": invoice.model_dump(mode="json"),
        "state": snapshot.state.value,
        "event_id": snapshot.event_id,
        "event_type": snapshot.event_type.value,
        "claim": snapshot.claim,
        "claimed_at": snapshot.claimed_at,
    }


def _to_snapshot(doc: Document) -> Snapshot:
    return Snapshot(
        invoice=Invoice.model_validate(doc["invoice"]),
        state=PublishState(doc["state"]),
        event_id=doc["event_id"],
        event_type=EventType(doc["event_type"]),
        claim=doc["claim"],
        claimed_at=doc["claimed_at"],
    )


class MongoIdempotencyStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def get(self, key_id: str) -> KeyRecord | None:
        with _translated:
            doc = await self._c.find_one({"_id": key_id})
        if doc is None:
            return None
        stored = doc.get("response")
        return KeyRecord(
            key_id=doc["_id"],
            request_hash=doc["request_hash"],
            state=KeyState(doc["state"]),
            created_at=doc["created_at"],
            claim=doc["claim"],
            response=StoredResponse(stored["status_code"], stored["body"]) if stored else None,
        )

    async def insert(self, record: KeyRecord) -> bool:
        with _translated:
            return await insert_if_new(self._c, _from_key(record))

    async def replace_if(self, expected_claim: str, record: KeyRecord) -> bool:
        with _translated:
            result = await self._c.replace_one(
                {"_id": record.key_id, "claim": expected_claim}, _from_key(record)
            )
        return result.matched_count == 1

    async def complete(self, key_id: str, claim: str, response: StoredResponse) -> None:
        stored = {"status_code": response.status_code, "body": response.body}
        with _translated:
            await self._c.update_one(
                {"_id": key_id, "claim": claim},
                {"$set": {"state": KeyState.DONE.value, "response": stored}},
            )

    async def release(self, key_id: str, claim: str) -> None:
        with _translated:
            await self._c.delete_one({"_id": key_id, "claim": claim})

    async def purge(self, created_before: datetime) -> int:
        with _translated:
            result = await self._c.delete_many({"created_at": {"$lte": created_before}})
        return result.deleted_count


def _from_key(record: KeyRecord) -> Document:
    return {
        "_id": record.key_id,
        "request_hash": record.request_hash,
        "state": record.state.value,
        "created_at": record.created_at,
        "claim": record.claim,
        "response": None,
    }


class MongoBatchStore:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._c = collection

    async def get(self, batch_id: str) -> ResyncBatch | None:
        with _translated:
            doc = await self._c.find_one({"_id": batch_id})
        if doc is None:
            return None
        return ResyncBatch(
            batch_id=doc["_id"],
            org_id=doc["org_id"],
            reason=SyncReason(doc["reason"]),
            requested_by=doc.get("requested_by"),
            created_at=doc["created_at"],
            invoice_ids=doc.get("invoice_ids", []),
            not_found=doc.get("not_found", []),
            complete=doc.get("complete", False),
        )

    async def save(self, batch: ResyncBatch) -> None:
        doc = {
            "org_id": batch.org_id,
            "reason": batch.reason.value,
            "requested_by": batch.requested_by,
            "created_at": batch.created_at,
            "invoice_ids": batch.invoice_ids,
            "not_found": batch.not_found,
            "complete": batch.complete,
        }
        with _translated:
            await self._c.replace_one({"_id": batch.batch_id}, doc, upsert=True)


@dataclass(frozen=True, slots=True)
class MongoStores:
    snapshots: MongoSnapshotStore
    idempotency: MongoIdempotencyStore
    batches: MongoBatchStore

    @classmethod
    async def open(cls, db: AsyncDatabase[Document]) -> "MongoStores":
        with _translated:
            await db.snapshots.create_index([("state", ASCENDING), ("claimed_at", ASCENDING)])
            await db.idempotency_keys.create_index([("created_at", ASCENDING)])
        return cls(
            MongoSnapshotStore(db.snapshots),
            MongoIdempotencyStore(db.idempotency_keys),
            MongoBatchStore(db.resync_batches),
        )
