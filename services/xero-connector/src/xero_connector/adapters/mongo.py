"""The connector's connections and configuration in MongoDB. Every document is keyed by
``_id`` and read and written by ``_id`` (Reset's and the link check's scans by ``org_id`` are
operator actions): the one lookup every MongoDB-wire server (FerretDB v1 included) serves
from its primary index. FerretDB v1 has no transactions and applies a filtered update as "find, then
replace by _id", so the only atomic primitive relied on is an insert failing on a duplicate
``_id``: the refresh leases and the one-time OAuth states are built on it.

Collections:
- ``connections``  ``_id`` = org_id; tokens as one Fernet blob (``tokens``), never plaintext
- ``leases``       ``_id`` = ``refresh:{org_id}:{generation}:{attempt}``
- ``authorizations`` ``_id`` = state (pending) and ``used:{state}`` (the one-time marker)
- ``org_config``   ``_id`` = org_id; ``settings`` and ``mappings``
- ``seen_currencies`` ``_id`` = org_id (the collection keeps its first name);
  ``currencies.{CODE}``, ``revenue_categories.{key}``, ``tax_codes.{key}`` = last used, a
  key being the upstream code percent-encoded (``field_key``: field names cannot hold ``.``
  nor NUL, nor start with ``$``)

The sync pipeline's own state is in ``mongo_sync.py``.
"""

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import structlog
from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service_kit.errors import retry_later_on
from service_kit.mongo import insert_if_new
from sync_schemas import ConnectionStatus
from xero_connector.crypto import TokenCipher, UndecryptableTokens
from xero_connector.domain import (
    Connection,
    LastSeen,
    Mappings,
    OrgSettings,
    PendingAuthorization,
    TokenPair,
    Used,
)

Doc = dict[str, Any]
MAX_LEASE_ATTEMPTS = 50
UNDECRYPTABLE = (
    "the stored tokens were sealed with a key no longer in XERO_CONNECTOR_TOKEN_KEYS: "
    "put that key back (after the new one), or Reconnect"
)

log = structlog.get_logger(__name__)
_CURRENCY = re.compile(r"^[A-Z0-9]{3}$")


# A connection's write time was stored as "updated_at" before issue 16 named it "written_at".
# Both are written for now, so an instance still on the old code (a rolling deploy, a
# rollback) reads what this one writes; reads take "written_at" and fall back.
OLD_WRITE_TIME = "updated_at"


@retry_later_on(PyMongoError)
class MongoConnections:
    def __init__(self, db: AsyncDatabase[Doc], cipher: TokenCipher) -> None:
        self._collection = db["connections"]
        self._cipher = cipher

    async def get(self, org_id: str) -> Connection | None:
        doc = await self._collection.find_one({"_id": org_id})
        return self._from_doc(doc) if doc else None

    async def all(self) -> list[Connection]:
        """Every organisation's connection (one small document per organisation)."""
        return [self._from_doc(doc) async for doc in self._collection.find({})]

    async def put(self, connection: Connection) -> None:
        await self._collection.replace_one(
            {"_id": connection.org_id}, self._to_doc(connection), upsert=True
        )

    async def put_tokens(
        self, org_id: str, generation: int, tokens: TokenPair, expires_at: datetime, at: datetime
    ) -> Connection | None:
        current = await self.get(org_id)
        if (
            current is None
            or current.generation != generation
            or current.status is not ConnectionStatus.CONNECTED
        ):
            return None
        result = await self._collection.update_one(
            {"_id": org_id, "generation": generation},
            {
                "$set": {
                    "tokens": self._seal(tokens),
                    "access_expires_at": expires_at,
                    "generation": generation + 1,
                    "written_at": at,
                    OLD_WRITE_TIME: at,
                }
            },
        )
        if result.modified_count != 1:
            return None
        return await self.get(org_id)

    async def expire(
        self, org_id: str, generation: int, reason: str, at: datetime
    ) -> Connection | None:
        result = await self._collection.update_one(
            {"_id": org_id, "generation": generation, "status": ConnectionStatus.CONNECTED.value},
            {
                "$set": {
                    "status": ConnectionStatus.EXPIRED.value,
                    "reason": reason,
                    "written_at": at,
                    OLD_WRITE_TIME: at,
                    "tokens": None,
                    "access_expires_at": None,
                }
            },
        )
        if result.modified_count != 1:
            return None
        return await self.get(org_id)

    def _seal(self, tokens: TokenPair) -> Binary:
        return Binary(
            self._cipher.encrypt_json(
                {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
            )
        )

    def _to_doc(self, c: Connection) -> Doc:
        return {
            "org_id": c.org_id,
            "status": c.status.value,
            "generation": c.generation,
            "written_at": c.written_at,
            OLD_WRITE_TIME: c.written_at,
            "reason": c.reason,
            "tenant_id": c.tenant_id,
            "tenant_name": c.tenant_name,
            "xero_connection_id": c.xero_connection_id,
            "connected_at": c.connected_at,
            "access_expires_at": c.access_expires_at,
            "tokens": self._seal(c.tokens) if c.tokens else None,
        }

    def _from_doc(self, doc: Doc) -> Connection:
        tokens = None
        status, reason = ConnectionStatus(doc["status"]), doc.get("reason", "")
        if doc.get("tokens"):
            try:
                secret = self._cipher.decrypt_json(bytes(doc["tokens"]))
                tokens = TokenPair(secret["access_token"], secret["refresh_token"])
            except UndecryptableTokens:
                # A key retired too early. Fail closed, and not stuck: the connection reads as
                # expired (no token is used; a Reconnect replaces them), nothing is written, so
                # putting the key back restores it as it was.
                log.error("xero.tokens.undecryptable", org_id=doc["_id"], remediation=UNDECRYPTABLE)
                status, reason = ConnectionStatus.EXPIRED, UNDECRYPTABLE
        return Connection(
            org_id=doc["_id"],
            status=status,
            generation=int(doc.get("generation", 0)),
            written_at=doc["written_at"] if "written_at" in doc else doc[OLD_WRITE_TIME],
            reason=reason,
            tenant_id=doc.get("tenant_id"),
            tenant_name=doc.get("tenant_name"),
            xero_connection_id=doc.get("xero_connection_id"),
            connected_at=doc.get("connected_at"),
            access_expires_at=doc.get("access_expires_at"),
            tokens=tokens,
        )


@retry_later_on(PyMongoError)
class MongoRefreshLeases:
    """Leases by insert: ``refresh:{org}:{generation}:{attempt}``. Attempt k+1 may be taken
    only after attempt k expired (its holder died), and only by one instance: the insert of
    an existing ``_id`` fails for everyone else."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._collection = db["leases"]

    @staticmethod
    def _id(org_id: str, generation: int, attempt: int) -> str:
        return f"refresh:{org_id}:{generation}:{attempt}"

    async def acquire(
        self, org_id: str, generation: int, holder: str, ttl_seconds: float, now: datetime
    ) -> str | None:
        attempt = 0
        while attempt < MAX_LEASE_ATTEMPTS:
            lease_id = self._id(org_id, generation, attempt)
            lease = {
                "_id": lease_id,
                "holder": holder,
                "acquired_at": now,
                "expires_at": now + timedelta(seconds=ttl_seconds),
            }
            if await insert_if_new(self._collection, lease):
                return lease_id
            existing = await self._collection.find_one({"_id": lease_id})
            if existing is None:
                continue  # released meanwhile: try the same attempt again
            if existing["expires_at"] > now:
                return None  # held
            attempt += 1  # its holder died: the next attempt is up for grabs
        return None

    async def release(self, lease_id: str) -> None:
        await self._collection.delete_one({"_id": lease_id})

    async def extend(self, lease_id: str, expires_at: datetime) -> None:
        await self._collection.update_one({"_id": lease_id}, {"$set": {"expires_at": expires_at}})

    async def clear(self, org_id: str, generation: int) -> None:
        ids = [self._id(org_id, generation, a) for a in range(MAX_LEASE_ATTEMPTS)]
        await self._collection.delete_many({"_id": {"$in": ids}})


@retry_later_on(PyMongoError)
class MongoAuthorizations:
    def __init__(self, db: AsyncDatabase[Doc], cipher: TokenCipher) -> None:
        self._collection = db["authorizations"]
        self._cipher = cipher

    async def put(self, pending: PendingAuthorization) -> None:
        await self._collection.insert_one(
            {
                "_id": pending.state,
                "org_id": pending.org_id,
                "code_verifier": Binary(self._cipher.encrypt(pending.code_verifier)),
                "redirect_uri": pending.redirect_uri,
                "expires_at": pending.expires_at,
                "return_to": pending.return_to,
            }
        )

    async def take(self, state: str, now: datetime) -> PendingAuthorization | None:
        doc = await self._collection.find_one({"_id": state})
        if doc is None:
            return None
        marker = {"_id": f"used:{state}", "expires_at": doc["expires_at"]}
        if not await insert_if_new(self._collection, marker):  # the one-time use: one taker
            return None
        await self._collection.delete_one({"_id": state})
        if doc["expires_at"] <= now:
            return None
        try:
            verifier = self._cipher.decrypt(bytes(doc["code_verifier"]))
        except UndecryptableTokens:  # started before its key was retired: start again
            return None
        return PendingAuthorization(
            state=state,
            org_id=doc["org_id"],
            code_verifier=verifier,
            redirect_uri=doc["redirect_uri"],
            expires_at=doc["expires_at"],
            return_to=doc.get("return_to"),
        )

    async def purge(self, now: datetime) -> int:
        """Drop expired states and markers (a small collection: the scan is cheap)."""
        result = await self._collection.delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count


def _settings(doc: Doc | None) -> OrgSettings | None:
    if not doc or doc.get("settings") is None:
        return None
    return OrgSettings.model_validate(doc["settings"])


def _mappings(doc: Doc | None) -> Mappings | None:
    if not doc or doc.get("mappings") is None:
        return None
    stored = doc["mappings"]
    # Stored as {from, to} pairs: upstream codes may hold "." or "$", which field names
    # cannot (and FerretDB stores no nested arrays).
    return Mappings.model_validate(
        {
            name: {pair["from"]: pair["to"] for pair in stored.get(name) or []}
            for name in ("accounts", "tax_rates", "currencies")
        }
    )


@retry_later_on(PyMongoError)
class MongoOrgConfig:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._config = db["org_config"]
        self._seen = db["seen_currencies"]

    async def get_settings(self, org_id: str) -> OrgSettings | None:
        return _settings(await self._config.find_one({"_id": org_id}))

    async def get_settings_and_mappings(
        self, org_id: str
    ) -> tuple[OrgSettings | None, Mappings | None]:
        doc = await self._config.find_one({"_id": org_id})
        return _settings(doc), _mappings(doc)

    async def put_settings(self, org_id: str, settings: OrgSettings) -> None:
        await self._config.update_one(
            {"_id": org_id}, {"$set": {"settings": settings.model_dump(mode="json")}}, upsert=True
        )

    async def get_mappings(self, org_id: str) -> Mappings | None:
        return _mappings(await self._config.find_one({"_id": org_id}))

    async def put_mappings(self, org_id: str, mappings: Mappings) -> None:
        pairs = {
            name: [{"from": k, "to": v} for k, v in getattr(mappings, name).items()]
            for name in ("accounts", "tax_rates", "currencies")
        }
        await self._config.update_one({"_id": org_id}, {"$set": {"mappings": pairs}}, upsert=True)

    async def clear(self, org_id: str) -> None:
        await self._config.delete_one({"_id": org_id})

    async def org_ids(self) -> list[str]:
        """The organisations with settings or mappings (ids only: a small scan)."""
        return [str(doc["_id"]) async for doc in self._config.find({}, {"_id": 1})]

    async def record_used(self, org_id: str, used: Used, at: datetime) -> None:
        """One ``$max`` upsert for the whole batch: a code's date only moves forward."""
        wanted = {f"currencies.{c}": at for c in used.currencies if _CURRENCY.match(c)}
        for name in ("revenue_categories", "tax_codes"):
            wanted |= {f"{name}.{field_key(code)}": at for code in getattr(used, name)}
        if wanted:
            await self._seen.update_one({"_id": org_id}, {"$max": wanted}, upsert=True)

    async def seen_since(self, org_id: str, since: datetime) -> LastSeen:
        doc = await self._seen.find_one({"_id": org_id}) or {}

        def recent(name: str) -> dict[str, datetime]:
            stored: dict[str, datetime] = doc.get(name) or {}
            return {unquote(key): at for key, at in stored.items() if at >= since}

        return LastSeen(
            currencies=recent("currencies"),
            revenue_categories=recent("revenue_categories"),
            tax_codes=recent("tax_codes"),
        )


def field_key(code: str) -> str:
    """An upstream code as a field name any MongoDB-wire server takes: every character but
    letters, digits, ``_``, ``-`` and ``~`` percent-encoded (UTF-8), ``.`` included, so no
    ``.``, ``$`` or NUL reaches a name. ``unquote`` reverses it (a lone surrogate, which is
    not text, comes back escaped rather than failing the batch's write)."""
    return quote(code, safe="", errors="backslashreplace").replace(".", "%2E")
