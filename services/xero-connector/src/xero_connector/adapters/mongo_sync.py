"""The sync pipeline's state in MongoDB, every read and write by ``_id`` (see ``mongo.py`` for
what FerretDB v1 makes atomic: only an insert failing on a duplicate ``_id``).

Collections:
- ``links``        ``_id`` = ``{org_id}/{invoice_id}``: the invoice's high-water mark and its
                   link to a Xero invoice in a tenant (and the intents of records stored
                   before ``intents`` was split off)
- ``intents``      ``_id`` = ``{org_id}/{invoice_id}``: the numbers and Urls of our creates
- ``contacts``     ``_id`` = ``{org_id}/{tenant_id}/{customer_id}``: Xero ContactID
- ``processed_events`` ``_id`` = CloudEvents id whose result is published
- ``scheduled_retries`` ``_id`` = ``{org_id}/{invoice_id}``: a sync to request again (a
                   retry, or one parked until the organisation is connected again)
- ``writer_leases`` ``_id`` = ``writer:{org_id}:{epoch}``: one writer per organisation
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from pymongo import DeleteOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service_kit.errors import retry_later_on
from service_kit.keys import invoice_key
from service_kit.mongo import bulk_write_chunked, find_by_ids, insert_if_new, insert_new
from xero_connector.adapters.mongo import Doc
from xero_connector.domain import (
    LEGACY_TENANT,
    PARKED_UNTIL,
    Intent,
    InvoiceRecord,
    Link,
    ScheduledRetry,
)
from xero_connector.ports import XeroScope
from xero_connector.sync.concurrent import together


@retry_later_on(PyMongoError)
class MongoInvoiceRecords:
    """An invoice's record in two documents of the same ``_id`` (``{org_id}/{invoice_id}``):
    ``links`` holds ``high_water`` and the link (``tenant_id``, ``xero_invoice_id``,
    ``version``, ``payload_hash``, ``xero_status``); ``intents`` holds ``number`` and
    ``intents.{tenant_id}`` = ``{numbers, urls}``.

    Apart, a create's intent and its link are each an insert: on FerretDB v1 an update costs
    about eight inserts (read, decode, apply, encode, write back), and the link written over
    its intent was most of the store's work in a bulk. Records stored before the split keep
    their intents in ``links``; both are read.

    A link stored before links had a tenant has no ``tenant_id``: it is read as
    ``LEGACY_TENANT``, trusted for the connected tenant until its next write stamps it."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["links"]
        self._intents = db["intents"]

    async def get_many(self, org_id: str, invoice_ids: Iterable[str]) -> dict[str, InvoiceRecord]:
        keys = [invoice_key(org_id, i) for i in invoice_ids]
        links, intents = await together(
            find_by_ids(self._collection, keys), find_by_ids(self._intents, keys)
        )
        records = [
            _record(org_id, links.get(key, {}), intents.get(key, {}))
            for key in keys
            if key in links or key in intents
        ]
        return {record.invoice_id: record for record in records}

    async def intend(
        self, org_id: str, tenant_id: str, intents: Mapping[str, tuple[str, str]]
    ) -> None:
        """A new invoice's intents are inserted (one insert for a whole bulk); a known one's
        are added to."""
        ids = list(intents)
        fresh = [
            {
                "_id": invoice_key(org_id, invoice_id),
                "org_id": org_id,
                "invoice_id": invoice_id,
                "number": number,
                "intents": {tenant_id: {"numbers": [number], "urls": [url]}},
            }
            for invoice_id, (number, url) in intents.items()
        ]
        known = [ids[i] for i in await insert_new(self._intents, fresh)]
        operations = [
            UpdateOne(
                {"_id": invoice_key(org_id, invoice_id)},
                {
                    "$set": {"number": intents[invoice_id][0]},
                    "$addToSet": {
                        f"intents.{tenant_id}.numbers": intents[invoice_id][0],
                        f"intents.{tenant_id}.urls": intents[invoice_id][1],
                    },
                },
            )
            for invoice_id in known
        ]
        await bulk_write_chunked(self._intents, operations)

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None:
        """High-water marks only rise ($max; a link raises its invoice's to its version); a
        link is written only over one of the same or an older version, so a writer that fell
        behind never replaces a newer link. The links of ``new`` invoices are inserted; one
        whose record exists after all is written as any other. A link not in ``new`` is an
        update of the ``links`` document, which must exist (a mark or a link stored)."""
        inserted = [
            {
                "_id": invoice_key(org_id, invoice_id),
                **_link_fields(org_id, invoice_id, link),
                "high_water": link.version,
            }
            for invoice_id, link in links.items()
            if invoice_id in new
        ]
        if inserted:
            refused = await insert_new(self._collection, inserted)  # their record exists
            taken = {inserted[i]["invoice_id"] for i in refused}
            links = {i: link for i, link in links.items() if i not in new or i in taken}
        operations: list[UpdateOne] = [
            UpdateOne(
                {"_id": invoice_key(org_id, invoice_id)},
                {
                    "$set": {"org_id": org_id, "invoice_id": invoice_id},
                    "$max": {"high_water": version},
                },
                upsert=True,
            )
            for invoice_id, version in high_water.items()
        ]
        operations += [
            UpdateOne(
                {
                    "_id": invoice_key(org_id, invoice_id),
                    "$or": [{"version": {"$lte": link.version}}, {"version": {"$exists": False}}],
                },
                {
                    "$set": _link_fields(org_id, invoice_id, link),
                    "$max": {"high_water": link.version},
                },
            )
            for invoice_id, link in links.items()
        ]
        await bulk_write_chunked(self._collection, operations, ordered=True)

    async def unlink(self, org_id: str, invoice_id: str) -> None:
        await self._collection.update_one(
            {"_id": invoice_key(org_id, invoice_id)}, {"$unset": dict.fromkeys(_LINK_FIELDS, "")}
        )

    async def forget_org(self, org_id: str) -> None:
        await self._collection.update_many(
            {"org_id": org_id}, {"$unset": dict.fromkeys(_LINK_FIELDS, "")}
        )

    async def linked_to(self, org_id: str, xero_invoice_id: str) -> list[str]:
        """The invoices linked to a Xero invoice (a scan of the org: operator actions only)."""
        cursor = self._collection.find(
            {"org_id": org_id, "xero_invoice_id": xero_invoice_id}, {"invoice_id": 1}
        )
        return [doc["invoice_id"] async for doc in cursor]


_LINK_FIELDS = ("tenant_id", "xero_invoice_id", "version", "payload_hash", "xero_status")


def _link_fields(org_id: str, invoice_id: str, link: Link) -> Doc:
    return {
        "org_id": org_id,
        "invoice_id": invoice_id,
        "tenant_id": link.tenant_id,
        "xero_invoice_id": link.xero_invoice_id,
        "version": link.version,
        "payload_hash": link.payload_hash,
        "xero_status": link.xero_status,
    }


def _record(org_id: str, doc: Doc, intents_doc: Doc) -> InvoiceRecord:
    """The record from its ``links`` and ``intents`` documents (either may be ``{}``)."""
    link = None
    if doc.get("xero_invoice_id"):
        link = Link(
            tenant_id=doc.get("tenant_id") or LEGACY_TENANT,
            xero_invoice_id=doc["xero_invoice_id"],
            version=int(doc.get("version") or 0),
            payload_hash=doc.get("payload_hash") or "",
            xero_status=doc.get("xero_status") or "",
        )
    intents = _intents(doc)  # stored before intents had their own collection
    for tenant, intent in _intents(intents_doc).items():
        intents[tenant] = intents.get(tenant, Intent()).adding(intent)
    high_water = int(doc.get("high_water") or 0)
    return InvoiceRecord(
        org_id,
        doc.get("invoice_id") or intents_doc["invoice_id"],
        max(high_water, link.version if link else 0),
        link,
        intents,
        intents_doc.get("number") or doc.get("number"),
    )


def _intents(doc: Doc) -> dict[str, Intent]:
    return {
        tenant: Intent(tuple(i.get("numbers") or ()), tuple(i.get("urls") or ()))
        for tenant, i in (doc.get("intents") or {}).items()
        if isinstance(i, dict)
    }


@retry_later_on(PyMongoError)
class MongoContactCache:
    """``contacts``: ``_id`` = ``{org_id}/{tenant_id}/{customer_id}`` -> the Xero ContactID."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["contacts"]

    @staticmethod
    def _id(scope: XeroScope, customer_id: str) -> str:
        return f"{scope.org_id}/{scope.tenant_id}/{customer_id}"

    async def get_many(self, scope: XeroScope, customer_ids: Iterable[str]) -> dict[str, str]:
        docs = await find_by_ids(self._collection, (self._id(scope, c) for c in customer_ids))
        return {doc["customer_id"]: doc["contact_id"] for doc in docs.values()}

    async def put_many(self, scope: XeroScope, contacts: Mapping[str, str]) -> None:
        """Insert the contacts (one command: they are new to the cache, as a rule); replace
        those another writer stored meanwhile."""
        docs = [
            {
                "_id": self._id(scope, customer),
                "org_id": scope.org_id,
                "tenant_id": scope.tenant_id,
                "customer_id": customer,
                "contact_id": contact,
            }
            for customer, contact in contacts.items()
        ]
        taken = await insert_new(self._collection, docs)
        operations = [ReplaceOne({"_id": docs[i]["_id"]}, docs[i]) for i in taken]
        await bulk_write_chunked(self._collection, operations)

    async def forget(self, scope: XeroScope, customer_id: str) -> None:
        await self._collection.delete_one({"_id": self._id(scope, customer_id)})

    async def forget_org(self, org_id: str) -> None:
        await self._collection.delete_many({"org_id": org_id})


@retry_later_on(PyMongoError)
class MongoProcessed:
    """``processed_events``: ``_id`` = the CloudEvents id of an event whose result is out."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["processed_events"]

    async def seen(self, event_ids: Iterable[str]) -> set[str]:
        return set(await find_by_ids(self._collection, event_ids))

    async def purge(self, before: datetime) -> int:
        """Forget events handled before ``before`` (Kafka keeps none that old to redeliver)."""
        result = await self._collection.delete_many({"at": {"$lt": before}})
        return result.deleted_count

    async def mark(self, event_ids: Iterable[str], at: datetime) -> None:
        docs = [{"_id": e, "at": at} for e in dict.fromkeys(event_ids)]
        await insert_new(self._collection, docs)  # some marked before (a redelivery): fine


@retry_later_on(PyMongoError)
class MongoRetries:
    """``scheduled_retries``: ``_id`` = ``{org_id}/{invoice_id}``; the request to send again
    once ``due_at`` has passed (a small collection: only invoices that failed as
    ``rate_limited`` or ``xero_unavailable`` wait here)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["scheduled_retries"]

    async def schedule(self, retries: Iterable[ScheduledRetry]) -> None:
        """Insert each retry; where one is already scheduled, replace it unless it is for a
        newer version (a stale request must not push a newer version's retry out). Two
        commands rather than a filtered upsert, whose duplicate-key answer FerretDB v1 shapes
        in a way PyMongo cannot read."""
        docs = [_retry_doc(r) for r in retries]
        taken = await insert_new(self._collection, docs)
        operations = [
            ReplaceOne(
                {
                    "_id": docs[i]["_id"],
                    "$or": [
                        {"invoice.version": {"$lte": docs[i]["invoice"].get("version") or 0}},
                        {"invoice.version": {"$exists": False}},
                    ],
                },
                docs[i],
            )
            for i in taken
        ]
        await bulk_write_chunked(self._collection, operations)

    async def due(self, now: datetime, limit: int = 500) -> list[ScheduledRetry]:
        cursor = self._collection.find({"due_at": {"$lte": now}}).limit(limit)
        return [
            ScheduledRetry(
                org_id=d["org_id"],
                invoice_id=d["invoice_id"],
                due_at=d["due_at"],
                attempt=int(d["attempt"]),
                batch_id=d.get("batch_id"),
                invoice=d["invoice"],
                parked=bool(d.get("parked")),
            )
            async for d in cursor
        ]

    async def release_parked(self, org_id: str, now: datetime) -> int:
        """The organisation is connected again: its parked syncs are due now (a scan of
        the organisation's few waiting syncs, on a Connect only)."""
        result = await self._collection.update_many(
            {"org_id": org_id, "parked": True, "due_at": PARKED_UNTIL}, {"$set": {"due_at": now}}
        )
        return result.modified_count

    async def orgs_still_parked(self) -> list[str]:
        """The organisations with syncs parked and not yet released by a Connect."""
        found = await self._collection.distinct("org_id", {"parked": True, "due_at": PARKED_UNTIL})
        return sorted(str(org_id) for org_id in found)

    async def parked_count(self, org_id: str) -> int:
        """How many of the organisation's invoices wait on its connection."""
        return await self._collection.count_documents({"org_id": org_id, "parked": True})

    async def parked_by_org(self) -> dict[str, int]:
        """The same for every organisation with any, in one grouped read."""
        cursor = await self._collection.aggregate(
            [
                {"$match": {"parked": True}},
                {"$group": {"_id": "$org_id", "n": {"$sum": 1}}},
            ]
        )
        return {str(doc["_id"]): int(doc["n"]) async for doc in cursor}

    async def drop_older(self, org_id: str, versions: Mapping[str, int]) -> None:
        """Read first (one query: these invoices nearly never have a retry waiting), then
        delete only the retries found for an older version. The delete keeps the version
        condition, so a retry of a newer version scheduled meanwhile stays."""
        wanted = {invoice_key(org_id, invoice_id): v for invoice_id, v in versions.items()}
        found = await find_by_ids(self._collection, wanted)
        operations = [
            DeleteOne({"_id": key, "invoice.version": {"$lt": wanted[key]}})
            for key, doc in found.items()
            if _version(doc) < wanted[key]
        ]
        await bulk_write_chunked(self._collection, operations)

    async def done(self, retry: ScheduledRetry) -> None:
        """Forget ``retry``, but not a newer one for the same invoice: the request just sent
        may already have failed again and scheduled the next attempt under the same ``_id``."""
        await self._collection.delete_one(
            {
                "_id": invoice_key(retry.org_id, retry.invoice_id),
                "attempt": retry.attempt,
                "due_at": retry.due_at,
            }
        )


def _version(retry: Doc) -> float:
    """The version a stored retry is for; one without a version is never dropped, as the
    delete's ``$lt`` never matches a missing field."""
    version = (retry.get("invoice") or {}).get("version")
    return version if isinstance(version, int) else float("inf")


def _retry_doc(r: ScheduledRetry) -> Doc:
    return {
        "_id": invoice_key(r.org_id, r.invoice_id),
        "org_id": r.org_id,
        "invoice_id": r.invoice_id,
        "due_at": r.due_at,
        "attempt": r.attempt,
        "batch_id": r.batch_id,
        "invoice": r.invoice,
        "parked": r.parked,
    }


@retry_later_on(PyMongoError)
class MongoWriterLeases:
    """``writer_leases``: ``_id`` = ``writer:{org}:{epoch}`` (made by insert, so one instance
    alone makes each epoch) and ``writer:{org}``, a hint of the newest epoch (the probe
    upward from it finds the real one)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["writer_leases"]

    async def latest(self, org_id: str) -> tuple[int, str, datetime] | None:
        hint = await self._collection.find_one({"_id": f"writer:{org_id}"})
        epoch = int(hint["epoch"]) if hint else 0
        while await self.exists(org_id, epoch + 1):
            epoch += 1
        if epoch == 0:
            return None
        doc = await self._collection.find_one({"_id": f"writer:{org_id}:{epoch}"})
        if doc is None:  # a hint beyond the epochs (never written so): start over
            return None
        return epoch, str(doc["holder"]), doc["expires_at"]

    async def create(self, org_id: str, epoch: int, holder: str, expires_at: datetime) -> bool:
        lease = {"_id": f"writer:{org_id}:{epoch}", "holder": holder, "expires_at": expires_at}
        if not await insert_if_new(self._collection, lease):
            return False
        await self._collection.update_one(
            {"_id": f"writer:{org_id}"}, {"$max": {"epoch": epoch}}, upsert=True
        )
        return True

    async def exists(self, org_id: str, epoch: int) -> bool:
        found = await self._collection.find_one({"_id": f"writer:{org_id}:{epoch}"}, {"_id": 1})
        return found is not None

    async def extend(self, org_id: str, epoch: int, expires_at: datetime) -> None:
        await self._collection.update_one(
            {"_id": f"writer:{org_id}:{epoch}"}, {"$set": {"expires_at": expires_at}}
        )
