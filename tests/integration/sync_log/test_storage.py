"""Storage behaviour on the real server: index use, retention, and the API and consumer
running as separate processes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.events import Topics, event_broker, publish_event
from service_kit.keys import invoice_key
from sync_log.adapters.mongo import MongoSyncLog
from sync_log.queries import LOCAL_INVOICE_INDEXES
from sync_log.retention import purge_once
from sync_schemas import EventType, new_event
from tests.integration.sync_log.conftest import API_KEY, serve, settings_for
from tests.support.eventually import eventually
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


async def _seed(mongo_db: Db) -> None:
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


async def _is_ferretdb(mongo_db: Db) -> bool:
    return "ferretdbVersion" in await mongo_db.client.admin.command("buildInfo")


async def _explain(mongo_db: Db, collection: str, query: dict[str, Any], sort: Any = None) -> Any:
    command: dict[str, Any] = {"find": collection, "filter": query}
    if sort:
        command["sort"] = sort
    return await mongo_db.command("explain", command)


async def test_main_queries_are_served_by_an_index(mongo_db: Db) -> None:
    """On MongoDB every main query's winning plan is an index scan."""
    if await _is_ferretdb(mongo_db):
        pytest.skip(
            "explain on FerretDB shows no index plans (its view indexes are checked below and "
            "in test_index_pushdown): set MONGODB_URI to a MongoDB to run this"
        )
    await _seed(mongo_db)
    main_queries = [
        ("entries", {"org_id": "o"}, {"occurred_at": -1, "_id": -1}),
        ("entries", {"org_id": "o", "invoice_id": "i"}, {"occurred_at": 1, "_id": 1}),
        ("entries", {"status": "failed", "error_code": "x"}, {"occurred_at": -1, "_id": -1}),
        ("invoices", {"org_id": "o", "status": "failed"}, {"status_at": -1, "_id": -1}),
        ("invoices", {"batch_ids": "b"}, {"status_at": -1, "_id": -1}),
        ("invoices", {"_id": invoice_key("o", "i")}, None),
    ]
    for collection, query, sort in main_queries:
        plan = await _explain(mongo_db, collection, query, sort)
        stages = _stages(plan["queryPlanner"]["winningPlan"])
        assert {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN"} & set(stages), (query, stages)
        assert "COLLSCAN" not in stages, query


async def test_key_lookups_are_pushed_down_on_ferretdb(mongo_db: Db) -> None:
    """On the local FerretDB the services' hot paths go by ``_id``, which must reach SQLite as
    a filter; and sync-log creates exactly the indexes of the operator's invoice views, which
    the project's build reads through (test_index_pushdown), and none on the entries."""
    if not await _is_ferretdb(mongo_db):
        pytest.skip("a FerretDB-only check (filterPushdown); MongoDB's plans are checked above")
    await _seed(mongo_db)
    for collection, key in (("invoices", invoice_key("o", "i")), ("entries", "e1")):
        plan = await _explain(mongo_db, collection, {"_id": key})
        assert plan["filterPushdown"] is True, plan
    info = await mongo_db.client.admin.command("buildInfo")
    assert info["ferretdbFeatures"]["indexPushdown"] is True
    indexes = await (await mongo_db.invoices.list_indexes()).to_list()
    keys = [list(index["key"].items()) for index in indexes if index["name"] != "_id_"]
    assert sorted(keys) == sorted(LOCAL_INVOICE_INDEXES)
    entry_indexes = await (await mongo_db.entries.list_indexes()).to_list()
    assert [index["name"] for index in entry_indexes] == ["_id_"]


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
        async with httpx.AsyncClient(headers=headers) as client:

            async def only_the_recent_one_is_left() -> bool:
                items = (await client.get(url)).json()["items"]
                return [i["invoice_id"] for i in items] == ["new"]

            await eventually(
                only_the_recent_one_is_left, what="retention to delete the old entry", timeout=30
            )
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

            async def entries() -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = (await client.get(api_url)).json()["items"]
                return items

            recorded = await eventually(entries, what="the entry served by the API", timeout=30)
            assert recorded[0]["event_id"] == event.id
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
