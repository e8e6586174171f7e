"""Fixtures every level shares. Levels are folders: unit/, contract/, integration/, e2e/;
each test is marked with its folder's name, so ``pytest -m unit`` selects by level.

Real-infrastructure fixtures are lazy: a unit test never starts a server.
"""

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import kafka_endpoint, mongodb_endpoint

LEVELS = ("unit", "contract", "integration", "e2e")
# tests/reliability/<kind>/: marked `reliability` and `<kind>`, so `pytest -m reliability`
# (or `-m faults`, `-m bad_input`, `-m security`) runs them on their own.
RELIABILITY = ("faults", "bad_input", "security")


TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Relative to tests/, so a checkout under e.g. /home/me/unit/ marks nothing extra.
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        for level in LEVELS:
            if level in parts:
                item.add_marker(getattr(pytest.mark, level))
        if "reliability" in parts:
            item.add_marker(pytest.mark.reliability)
            for kind in RELIABILITY:
                if kind in parts:
                    item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker, for the whole session."""
    with kafka_endpoint(tmp_path_factory.mktemp("infra")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a real MongoDB-wire server, for the whole session."""
    with mongodb_endpoint(tmp_path_factory.mktemp("infra")) as uri:
        yield uri


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: for topics, consumer groups, databases."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:24].strip("_")
    return f"t_{slug}_{uuid.uuid4().hex[:8]}"


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def kafka_topic(kafka_bootstrap: str, unique: str) -> AsyncIterator[TopicFactory]:
    """Creates topics named after the test; deletes them afterwards.

    ``topic = await kafka_topic("invoices.events", partitions=3)``
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def create(base: str, partitions: int = 3) -> str:
        name = f"{unique}.{base}"
        await admin.create_topics([NewTopic(name, partitions, 1)])
        created.append(name)
        return name

    try:
        yield create
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture
async def mongo_client(mongodb_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def mongo_db(
    mongo_client: AsyncMongoClient[dict[str, Any]], unique: str
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of the test's own, dropped afterwards."""
    db = mongo_client[unique[:60]]
    try:
        yield db
    finally:
        await mongo_client.drop_database(db.name)
