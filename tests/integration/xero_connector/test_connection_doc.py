"""A connection stored before issue 16's rename (``updated_at``, now ``written_at``) still
reads, and what is written now is readable under both names."""

from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet
from pymongo.asynchronous.database import AsyncDatabase

from sync_schemas import ConnectionStatus
from xero_connector.adapters.mongo import MongoConnections
from xero_connector.crypto import TokenCipher
from xero_connector.domain import TokenPair

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


async def test_a_connection_written_under_the_old_field_name_reads_back(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    cipher = TokenCipher.from_keys([Fernet.generate_key()])
    sealed = cipher.encrypt_json({"access_token": "a", "refresh_token": "r"})
    await mongo_db["connections"].insert_one(
        {
            "_id": "org_old",
            "org_id": "org_old",
            "status": "connected",
            "generation": 3,
            "updated_at": AT,
            "reason": "",
            "tenant_id": "t1",
            "tokens": sealed,
        }
    )
    store = MongoConnections(mongo_db, cipher)

    before = await store.get("org_old")
    assert before is not None and before.written_at == AT
    assert before.status is ConnectionStatus.CONNECTED and before.generation == 3

    after = await store.put_tokens("org_old", 3, TokenPair("a2", "r2"), LATER, LATER)
    assert after is not None and after.written_at == LATER
    assert after.tokens == TokenPair("a2", "r2")
    stored = await mongo_db["connections"].find_one({"_id": "org_old"})
    assert stored is not None
    # both names, so an instance still on the old code reads it (rolling deploy, rollback)
    assert stored["written_at"] == stored["updated_at"] == LATER
