"""Storage behaviour on the real server: index use, retention, and the API and consumer
running as separate processes."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.events import Topics, event_broker, publish_event
from sync_log.adapters.mongo import MongoSyncLog
from sync_log.domain import invoice_key
from sync_log.queries import LOCAL_INVOICE_INDEXES
from sync_log.retention import purge_once
from sync_schemas import EventType, new_event
from tests.integration.sync_log.conftest import API_KEY, serve, settings_for
from tests.support.samples import invoice

Db = AsyncDatabase[dict[str, Any]]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _stages(plan: Any) -> list[str]:
    if isinstance(plan, dict):
        own = [plan["stage"]] if "stage" in plan else []
        return own + [s for v in plan.values() for s in _stages(v)]
    if isinstance(plan, list):
        return [s for v in plan for s in _stages(v)]
    return []


async def test_main_queries_are_served_by_an_index(mongo_db: Db) -> None:
    """On MongoDB every main query's winning plan is an index scan. FerretDB v1 (the local
    server) reads through its primary key only, so there the key lookups must be pushed down."""
    store = MongoSyncLog(mongo_db)
    await store.ensure_indexes()
    await mongo_db.entries.insert_one(
        {"_id": "e1", "org_id": "o", "invoice_id": "i", "occurred_at": NOW, "status": "failed"}
    )
    await mongo_db.invoices.insert_one(
        {
            "_id": invoice_key("o", "i"),
            "org_id": "o",
            "status": "failed",
            "status_at": NOW,
            "batch_ids": ["b"],
        }
    )
    info = await mongo_db.client.admin.command("buildInfo")

    async def explain(collection: str, query: dict[str, Any], sort: Any = None) -> Any:
        command: dict[str, Any] = {"find": collection, "filter": query}
        if sort:
            command["sort"] = sort
        return await mongo_db.command("explain", command)

    if "ferretdbVersion" in info:
        for collection, key in (("invoices", invoice_key("o", "i")), ("entries", "e1")):
            plan = await explain(collection, {"_id": key})
            assert plan["filterPushdown"] is True, plan
        # the project's build reads the operator's views through these (test_index_pushdown)
        assert info["ferretdbFeatures"]["indexPushdown"] is True
        indexes = await (await mongo_db.invoices.list_indexes()).to_list()
        keys = [list(index["key"].items()) for index in indexes if index["name"] != "_id_"]
        assert sorted(keys) == sorted(LOCAL_INVOICE_INDEXES)
        entry_indexes = await (await mongo_db.entries.list_indexes()).to_list()
        assert [index["name"] for index in entry_indexes] == ["_id_"]
        return
    main_queries = [
        ("entries", {"org_id": "o"}, {"occurred_at": -1, "_id": -1}),
        ("entries", {"org_id": "o", "invoice_id": "i"}, {"occurred_at": 1, "_id": 1}),
        ("entries", {"status": "failed", "error_code": "x"}, {"occurred_at": -1, "_id": -1}),
        ("invoices", {"org_id": "o", "status": "failed"}, {"status_at": -1, "_id": -1}),
        ("invoices", {"batch_ids": "b"}, {"status_at": -1, "_id": -1}),
        ("invoices", {"_id": invoice_key("o", "i")}, None),
    ]
    for collection, query, sort in main_queries:
        stages = _stages((await explain(collection, query, sort))["queryPlanner"]["winningPlan"])
        assert {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN"} & set(stages), (query, stages)
        assert "COLLSCAN" not in stages, query


async def test_retention_deletes_only_entries_older_than_the_age(mongo_db: Db) -> None:
    store = MongoSyncLog(mongo_db)
    await mongo_db.entries.insert_many(
        [{"_id": f"e{d}", "occurred_at": NOW - timedelta(days=d)} for d in (1, 29, 31, 400)]
    )
    deleted = await purge_once(store, retention_days=30, clock=lambda: NOW)
    assert deleted == 2
    assert sorted(d["_id"] for d in await mongo_db.entries.find().to_list()) == ["e1", "e29"]


async def test_the_service_runs_retention_on_its_own(
    kafka_bootstrap: str, mongodb_uri: str, unique: str
) -> None:
    settings = settings_for(
        kafka_bootstrap, mongodb_uri, unique, retention_days=7, retention_interval_seconds=0.3
    )
    server, task = await serve(settings)
    broker = event_broker([kafka_bootstrap], client_id=unique)
    await broker.start()
    names = Topics.with_prefix(unique)
    old = new_event(
        EventType.INVOICE_CREATED,
        invoice(invoice_id="old"),
        source="/t",
        time=datetime.now(UTC) - timedelta(days=30),
    )
    recent = new_event(EventType.INVOICE_CREATED, invoice(invoice_id="new"), source="/t")
    try:
        await publish_event(broker, old, names)
        await publish_event(broker, recent, names)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        url = f"http://127.0.0.1:{settings.port}/v1/sync-log"
        async with httpx.AsyncClient(headers=headers) as client, asyncio.timeout(30):
            while True:
                items = (await client.get(url)).json()["items"]
                if [i["invoice_id"] for i in items] == ["new"]:
                    break
                await asyncio.sleep(0.2)
    finally:
        await broker.stop()
        server.should_exit = True
        await task


async def test_api_and_consumer_run_as_separate_processes(
    kafka_bootstrap: str, mongodb_uri: str, unique: str
) -> None:
    consumer_settings = settings_for(kafka_bootstrap, mongodb_uri, unique, api_enabled=False)
    api_settings = settings_for(kafka_bootstrap, mongodb_uri, unique, consumer_enabled=False)
    consumer, consumer_task = await serve(consumer_settings)
    api, api_task = await serve(api_settings)
    broker = event_broker([kafka_bootstrap], client_id=unique)
    await broker.start()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        event = new_event(EventType.INVOICE_CREATED, invoice(), source="/t")
        await publish_event(broker, event, Topics.with_prefix(unique))
        async with httpx.AsyncClient(headers=headers) as client:
            consumer_url = f"http://127.0.0.1:{consumer_settings.port}"
            assert (await client.get(f"{consumer_url}/v1/sync-log")).status_code == 404
            assert (await client.get(f"{consumer_url}/healthz")).status_code == 200
            api_url = f"http://127.0.0.1:{api_settings.port}/v1/sync-log"
            async with asyncio.timeout(30):
                while not (await client.get(api_url)).json()["items"]:
                    await asyncio.sleep(0.2)
            assert (await client.get(api_url)).json()["items"][0]["event_id"] == event.id
    finally:
        await broker.stop()
        for server, task in ((consumer, consumer_task), (api, api_task)):
            server.should_exit = True
            await task


async def test_state_writes_are_compare_and_set_on_the_real_server(mongo_db: Db) -> None:
    from sync_log.domain import InvoiceState, Status

    store = MongoSyncLog(mongo_db)
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = InvoiceState("org_c", "inv_1", "INV-1", 1, Status.PENDING, now)
    assert await store.save_states([fresh], now) == set()
    assert await store.save_states([fresh], now) == {fresh.key}  # created meanwhile by another
    [read_a] = (await store.load_states([fresh.key])).values()
    read_b = read_a  # two writers read revision 1
    assert read_a.revision == 1
    won = await store.save_states([replace(read_a, status=Status.SYNCED)], now)
    lost = await store.save_states([replace(read_b, status=Status.FAILED)], now)
    assert (won, lost) == (set(), {fresh.key})
    [stored] = (await store.load_states([fresh.key])).values()
    assert (stored.status, stored.revision) == (Status.SYNCED, 2)
