"""Readiness probes for the two servers every service depends on."""

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient


async def kafka_reachable(bootstrap_servers: list[str], timeout_seconds: float = 3.0) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_seconds * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_seconds)
        return True
    except Exception:  # any failure means "not ready"; the reason is not the probe's business
        return False
    finally:
        await admin.close()


async def mongo_reachable(
    client: AsyncMongoClient[dict[str, object]], timeout_seconds: float = 3.0
) -> bool:
    try:
        await asyncio.wait_for(client.admin.command("ping"), timeout_seconds)
        return True
    except Exception:
        return False
