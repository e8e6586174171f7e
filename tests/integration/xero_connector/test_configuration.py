"""Settings and mappings round trips with validation, and the mapping check against a live
sandbox organisation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.xero_connector.pipeline_support import (
    created,
    invoice,
    publish,
    results,
    setup_org,
)
from tests.integration.xero_connector.support import (
    ConnectorFactory,
    Sandbox,
    connect,
    watched_db,
)
from xero_connector.adapters.mongo import MongoOrgConfig
from xero_connector.domain import Mappings, OrgSettings, SyncMode, Used

ORG = "org_config"


async def test_settings_have_defaults_round_trip_and_name_the_bad_field(
    connector: ConnectorFactory,
) -> None:
    async with connector() as c:
        defaults = await c.http.get(f"/v1/orgs/{ORG}/settings")
        assert defaults.json() == {
            "sync_mode": "automatic",
            "auto_create_contacts": False,
            "invoice_status": "AUTHORISED",
            "default_account_code": None,
        }
        wanted = {
            "sync_mode": "manual",
            "auto_create_contacts": True,
            "invoice_status": "DRAFT",
            "default_account_code": "200",
        }
        put = await c.http.put(f"/v1/orgs/{ORG}/settings", json=wanted)
        assert put.status_code == 200 and put.json() == wanted
        assert (await c.http.get(f"/v1/orgs/{ORG}/settings")).json() == wanted
        assert (await c.http.get("/v1/orgs/org_other/settings")).json() == defaults.json()

        bad = await c.http.put(
            f"/v1/orgs/{ORG}/settings", json={"sync_mode": "sometimes", "invoice_status": "PAID"}
        )
        assert bad.status_code == 422
        fields = {d["field"] for d in bad.json()["error"]["details"]}
        assert fields == {"body.sync_mode", "body.invoice_status"}
        unknown = await c.http.put(f"/v1/orgs/{ORG}/settings", json={"colour": "blue"})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["details"][0]["field"] == "body.colour"
        assert (await c.http.get(f"/v1/orgs/{ORG}/settings")).json() == wanted


async def test_mappings_round_trip_and_name_the_bad_field(connector: ConnectorFactory) -> None:
    async with connector() as c:
        assert (await c.http.get(f"/v1/orgs/{ORG}/mappings")).json() == {
            "accounts": {},
            "tax_rates": {},
            "currencies": {},
        }
        wanted = {
            "accounts": {"consulting": "200", "hardware.parts": "260"},
            "tax_rates": {"GST15": "OUTPUT2", "$zero": "NONE"},
            "currencies": {"EUR": "NZD"},
        }
        put = await c.http.put(f"/v1/orgs/{ORG}/mappings", json=wanted)
        assert put.status_code == 200, put.text
        assert (await c.http.get(f"/v1/orgs/{ORG}/mappings")).json() == wanted

        partial = await c.http.put(f"/v1/orgs/{ORG}/mappings", json={"accounts": {"a": "200"}})
        assert partial.json()["currencies"] == {}  # optional

        bad = await c.http.put(
            f"/v1/orgs/{ORG}/mappings",
            json={"accounts": {"consulting": ""}, "currencies": {"euro": "NZD"}},
        )
        assert bad.status_code == 422
        fields = {d["field"] for d in bad.json()["error"]["details"]}
        assert "body.accounts.consulting" in fields
        assert any(f.startswith("body.currencies.euro") for f in fields)


async def test_the_mapping_check_finds_each_kind_of_problem(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(
        name="Checked Ltd",
        currencies=["NZD", "AUD"],
        tax_rates=[
            {"TaxType": "OUTPUT2", "Name": "GST on Income", "EffectiveRate": 15},
            {"TaxType": "OUTPUT", "Name": "Old GST", "Status": "ARCHIVED"},
            {"TaxType": "INPUT2", "Name": "GST on Expenses", "CanApplyToRevenue": False},
        ],
        accounts=[
            {"Code": "200", "Name": "Sales", "Type": "REVENUE"},
            {"Code": "210", "Name": "Old Sales", "Type": "REVENUE", "Status": "ARCHIVED"},
            {"Code": "400", "Name": "Advertising", "Type": "EXPENSE"},
        ],
    )
    async with connector() as c:
        not_yet = await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        assert not_yet.status_code == 409
        assert not_yet.json()["error"]["code"] == "not_connected"

        await connect(c, sandbox, ORG, tenant)
        good = {"accounts": {"consulting": "200"}, "tax_rates": {"GST15": "OUTPUT2"}}
        await c.http.put(f"/v1/orgs/{ORG}/mappings", json=good)
        await c.app.state.config.record_used(ORG, Used(currencies=frozenset({"NZD", "AUD"})))
        clean = await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        assert clean.status_code == 200
        assert clean.json() == {"ok": True, "problems": []}

        await c.http.put(
            f"/v1/orgs/{ORG}/mappings",
            json={
                "accounts": {"consulting": "200", "gone": "999", "old": "210", "ads": "400"},
                "tax_rates": {"GST15": "OUTPUT2", "X": "XYZ", "OLD": "OUTPUT", "IN": "INPUT2"},
                "currencies": {"CHF": "USD"},
            },
        )
        await c.http.put(f"/v1/orgs/{ORG}/settings", json={"default_account_code": "998"})
        await c.app.state.config.record_used(ORG, Used(currencies=frozenset({"EUR", "CHF"})))

        checked = await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        assert checked.status_code == 200
        body = checked.json()
        assert body["ok"] is False
        found = {(p["kind"], p["field"], p["code"], p["error_code"]) for p in body["problems"]}
        assert found == {
            ("tax_type_unknown", "tax_rates.X", "XYZ", "tax_rate_invalid"),
            ("tax_type_inactive", "tax_rates.OLD", "OUTPUT", "tax_rate_invalid"),
            ("tax_type_not_for_revenue", "tax_rates.IN", "INPUT2", "tax_rate_invalid"),
            ("account_unknown", "accounts.gone", "999", "account_invalid"),
            ("account_inactive", "accounts.old", "210", "account_invalid"),
            ("account_not_revenue", "accounts.ads", "400", "account_invalid"),
            ("account_unknown", "default_account_code", "998", "account_invalid"),
            ("currency_not_enabled", "currencies.EUR", "EUR", "currency_not_enabled"),
            ("currency_not_enabled", "currencies.CHF", "USD", "currency_not_enabled"),
        }
        for problem in body["problems"]:
            assert problem["code"] in problem["message"]
            assert problem["action"] and "{org_id}" not in problem["action"]
        eur = next(p for p in body["problems"] if p["field"] == "currencies.EUR")
        assert "Enable EUR in Xero" in eur["action"]
        calls = {r["path"] for r in await sandbox.requests() if r["path"].startswith("/api.xro")}
        assert calls == {
            "/api.xro/2.0/Currencies",
            "/api.xro/2.0/TaxRates",
            "/api.xro/2.0/Accounts",
        }


async def test_the_choices_are_what_the_live_org_would_accept_read_through_the_cache(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(
        name="Choosy Ltd",
        base_currency="NZD",
        currencies=["AUD", "USD"],
        tax_rates=[
            {"TaxType": "OUTPUT2", "Name": "GST on Income", "EffectiveRate": 15},
            {"TaxType": "OUTPUT", "Name": "Old GST", "Status": "ARCHIVED"},
            {"TaxType": "INPUT2", "Name": "GST on Expenses", "CanApplyToRevenue": False},
            {"TaxType": "NONE", "Name": "No GST", "EffectiveRate": 0},
        ],
        accounts=[
            {"Code": "200", "Name": "Sales", "Type": "REVENUE"},
            {"Code": "260", "Name": "Other Revenue", "Type": "OTHERINCOME"},
            {"Code": "210", "Name": "Old Sales", "Type": "REVENUE", "Status": "ARCHIVED"},
            {"Code": "400", "Name": "Advertising", "Type": "EXPENSE"},
        ],
    )
    async with connector(consume=False) as c:
        not_yet = await c.http.get(f"/v1/orgs/{ORG}/xero/choices")
        assert not_yet.status_code == 409
        assert not_yet.json()["error"]["code"] == "not_connected"

        await connect(c, sandbox, ORG, tenant)
        got = await c.http.get(f"/v1/orgs/{ORG}/xero/choices")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["accounts"] == [
            {"code": "200", "name": "Sales", "type": "REVENUE"},
            {"code": "260", "name": "Other Revenue", "type": "OTHERINCOME"},
        ]
        rates = {r["tax_type"]: r for r in body["tax_rates"]}
        assert set(rates) == {"OUTPUT2", "NONE"}
        assert rates["OUTPUT2"]["name"] == "GST on Income"
        assert Decimal(rates["OUTPUT2"]["effective_rate"]) == 15
        assert Decimal(rates["NONE"]["effective_rate"]) == 0
        assert [c["code"] for c in body["currencies"]] == ["AUD", "NZD", "USD"]
        assert body["base_currency"] == "NZD"
        fetched = datetime.fromisoformat(body["fetched_at"])

        def settings_reads(requests: list[dict[str, Any]]) -> list[str]:
            return [
                r["path"].rsplit("/", 1)[1] for r in requests if r["path"].startswith("/api.xro")
            ]

        reads = settings_reads(await sandbox.requests())
        assert sorted(reads) == ["Accounts", "Currencies", "Organisation", "TaxRates"]
        cached = await c.http.get(f"/v1/orgs/{ORG}/xero/choices")
        assert cached.json() == body
        assert settings_reads(await sandbox.requests()) == reads  # no new Xero call

        refreshed = await c.http.get(f"/v1/orgs/{ORG}/xero/choices", params={"refresh": "true"})
        assert refreshed.status_code == 200
        assert datetime.fromisoformat(refreshed.json()["fetched_at"]) > fetched
        assert len(settings_reads(await sandbox.requests())) == 2 * len(reads)

        bad = await c.http.get(f"/v1/orgs/{ORG}/xero/choices", params={"refresh": "maybe"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.refresh"]


async def test_seen_lists_what_processed_invoices_used_unmapped_first(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    async with connector(xero_backoff_seconds=0.01, linger_ms=50) as c:
        await setup_org(c, sandbox, ORG)  # maps consulting, bad_account; GST15, BADTAX
        empty = await c.http.get(f"/v1/orgs/{ORG}/mappings/seen")
        assert empty.status_code == 200
        assert empty.json() == {"revenue_categories": [], "tax_codes": [], "currencies": []}

        await publish(
            c.settings.kafka_bootstrap_servers[0],
            c.names.invoice_events,
            [
                created(invoice(ORG, 1)),
                created(invoice(ORG, 2, currency="EUR", line={"tax_code": "VAT9"})),
                created(invoice(ORG, 3, line={"revenue_category": "hardware.parts"})),
                created(invoice(ORG, 4, line={"revenue_category": "$odd", "tax_code": "a.b"})),
                created(invoice(ORG, 5, line={"revenue_category": "nul\x00here"})),
            ],
        )
        await results(c, 5)
        seen = await c.http.get(f"/v1/orgs/{ORG}/mappings/seen")
        assert seen.status_code == 200, seen.text
        body = seen.json()

        def listed(kind: str) -> list[tuple[str, bool]]:
            return [(s["value"], s["mapped"]) for s in body[kind]]

        assert listed("revenue_categories") == [
            ("$odd", False),
            ("hardware.parts", False),
            ("nul\x00here", False),
            ("consulting", True),
        ]
        assert listed("tax_codes") == [("VAT9", False), ("a.b", False), ("GST15", True)]
        assert listed("currencies") == [("EUR", False), ("NZD", False)]
        for kind in body.values():
            for row in kind:
                assert datetime.fromisoformat(row["last_seen"]) <= datetime.now(UTC)

        # One document per organisation, the codes' dots and dollars kept out of field names.
        db = c.app.state.mongo[c.settings.mongodb_database]
        raw = await db["seen_currencies"].find_one({"_id": ORG})
        assert set(raw["revenue_categories"]) == {
            "%24odd",
            "hardware%2Eparts",
            "nul%00here",
            "consulting",
        }

        # A default account maps every category; a currency mapping maps its currency.
        await c.http.put(f"/v1/orgs/{ORG}/settings", json={"default_account_code": "200"})
        await c.http.put(
            f"/v1/orgs/{ORG}/mappings",
            json={"accounts": {}, "tax_rates": {"VAT9": "OUTPUT2"}, "currencies": {"EUR": "NZD"}},
        )
        again = (await c.http.get(f"/v1/orgs/{ORG}/mappings/seen")).json()
        assert all(s["mapped"] for s in again["revenue_categories"])
        assert [(s["value"], s["mapped"]) for s in again["tax_codes"]] == [
            ("GST15", False),
            ("a.b", False),
            ("VAT9", True),
        ]
        assert [(s["value"], s["mapped"]) for s in again["currencies"]] == [
            ("NZD", False),
            ("EUR", True),
        ]


async def test_seen_forgets_what_is_older_than_the_recent_window(
    connector: ConnectorFactory,
) -> None:
    async with connector(consume=False, recent_currency_days=1) as c:
        stores = c.stores
        now = datetime.now(UTC)
        await stores.config.record_used(
            ORG, Used(tax_codes=frozenset({"OLD"})), now - timedelta(days=2)
        )
        await stores.config.record_used(ORG, Used(tax_codes=frozenset({"NEW", "OLD"})), now)
        await stores.config.record_used(
            ORG, Used(tax_codes=frozenset({"GONE"})), now - timedelta(days=3)
        )
        body = (await c.http.get(f"/v1/orgs/{ORG}/mappings/seen")).json()
        assert [s["value"] for s in body["tax_codes"]] == ["NEW", "OLD"]  # OLD's date moved on


async def test_the_check_takes_a_proposal_and_leaves_the_stored_mappings_alone(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(
        name="Proposed Ltd",
        tax_rates=[
            {"TaxType": "OUTPUT2", "Name": "GST on Income", "EffectiveRate": 15},
            {"TaxType": "INPUT2", "Name": "GST on Expenses", "CanApplyToRevenue": False},
        ],
        accounts=[
            {"Code": "200", "Name": "Sales", "Type": "REVENUE"},
            {"Code": "400", "Name": "Advertising", "Type": "EXPENSE"},
        ],
    )
    stored = {
        "accounts": {"consulting": "200"},
        "tax_rates": {"GST15": "OUTPUT2"},
        "currencies": {},
    }
    async with connector(consume=False) as c:
        proposal = {"accounts": {"consulting": "400"}, "tax_rates": {"GST15": "INPUT2"}}
        not_yet = await c.http.post(f"/v1/orgs/{ORG}/mappings/check", json=proposal)
        assert not_yet.status_code == 409
        assert not_yet.json()["error"]["code"] == "not_connected"

        await connect(c, sandbox, ORG, tenant)
        await c.http.put(f"/v1/orgs/{ORG}/mappings", json=stored)
        checked = await c.http.post(f"/v1/orgs/{ORG}/mappings/check", json=proposal)
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["ok"] is False
        assert {(p["kind"], p["field"]) for p in body["problems"]} == {
            ("account_not_revenue", "accounts.consulting"),
            ("tax_type_not_for_revenue", "tax_rates.GST15"),
        }
        assert (await c.http.get(f"/v1/orgs/{ORG}/mappings")).json() == stored

        good = await c.http.post(
            f"/v1/orgs/{ORG}/mappings/check", json={"tax_rates": {"NEW": "OUTPUT2"}}
        )
        assert good.json() == {"ok": True, "problems": []}
        # Without a body, the stored mappings are checked, as before.
        plain = await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        assert plain.json() == {"ok": True, "problems": []}

        bad = await c.http.post(
            f"/v1/orgs/{ORG}/mappings/check",
            json={"accounts": {"consulting": ""}, "colour": "blue"},
        )
        assert bad.status_code == 422
        fields = {d["field"] for d in bad.json()["error"]["details"]}
        assert fields == {"body.accounts.consulting", "body.colour"}


async def test_a_batch_reads_the_settings_and_the_mappings_in_one_find(
    mongodb_uri: str, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    async with watched_db(mongodb_uri, mongo_db.name) as (db, commands):
        store = MongoOrgConfig(db)
        assert await store.get_settings_and_mappings("org_none") == (None, None)
        settings = OrgSettings(sync_mode=SyncMode.MANUAL, auto_create_contacts=True)
        await store.put_settings("org_s", settings)
        assert await store.get_settings_and_mappings("org_s") == (settings, None)
        mappings = Mappings(accounts={"hardware.parts": "260"}, tax_rates={"$zero": "NONE"})
        await store.put_mappings("org_s", mappings)
        commands.sent.clear()
        assert await store.get_settings_and_mappings("org_s") == (settings, mappings)
        finds = [command["find"] for command in commands.of("find")]
        assert finds == ["org_config"]  # one round trip for both
        assert await store.get_settings("org_s") == settings
        assert await store.get_mappings("org_s") == mappings
