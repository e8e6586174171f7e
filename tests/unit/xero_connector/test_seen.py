"""The codes recent invoices used: recorded once per batch, listed unmapped first."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from sync_schemas import EventType, Invoice, InvoiceStatus
from tests.unit.xero_connector.fakes import FakeClock
from xero_connector.adapters.mongo import field_key
from xero_connector.configuration import ConfigService
from xero_connector.domain import InvoiceRecord, LastSeen, Mappings, OrgSettings, Used
from xero_connector.org_data import OrgDataCache
from xero_connector.ports import XeroScope
from xero_connector.seen import Seen, seen_codes
from xero_connector.sync.model import SyncAsk, SyncResult, Target
from xero_connector.sync.prepare import Preparer
from xero_connector.xero_errors import XeroUnavailable

T1 = datetime(2026, 11, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 2, tzinfo=UTC)


def invoice(n: int, currency: str = "NZD", **line: Any) -> Invoice:
    return Invoice.model_validate(
        {
            "org_id": "org_a",
            "invoice_id": f"inv_{n}",
            "invoice_number": f"INV-{n}",
            "version": 1,
            "customer": {"id": "cus_1", "name": "Harbour Cafe"},
            "currency": currency,
            "issue_date": "2026-11-20",
            "status": "issued",
            "line_amount_type": "exclusive",
            "lines": [
                {"description": "a", "quantity": "1", "unit_price": "1", **line},
                {"description": "b", "quantity": "1", "unit_price": "1"},
            ],
        }
    )


def test_what_a_batch_used_is_every_currency_category_and_tax_code_once() -> None:
    used = Used.by(
        [
            invoice(1, "NZD", tax_code="GST15", revenue_category="consulting"),
            invoice(2, "EUR", tax_code="GST15", revenue_category="hardware.parts"),
            invoice(3, "NZD"),
        ]
    )
    assert used == Used(
        currencies=frozenset({"NZD", "EUR"}),
        revenue_categories=frozenset({"consulting", "hardware.parts"}),
        tax_codes=frozenset({"GST15"}),
    )


def test_each_list_is_unmapped_first_then_by_value() -> None:
    last = LastSeen(
        currencies={"NZD": T1, "EUR": T2, "AUD": T1},
        revenue_categories={"consulting": T1, "b": T2, "a": T1},
        tax_codes={"GST15": T2, "EXEMPT": T1, "ZERO": T1},
    )
    mappings = Mappings(
        accounts={"consulting": "200"},
        tax_rates={"GST15": "OUTPUT2"},
        currencies={"EUR": "NZD"},
    )
    seen = seen_codes(last, mappings, OrgSettings())
    assert seen.revenue_categories == [
        Seen("a", False, T1),
        Seen("b", False, T2),
        Seen("consulting", True, T1),
    ]
    assert seen.tax_codes == [
        Seen("EXEMPT", False, T1),
        Seen("ZERO", False, T1),
        Seen("GST15", True, T2),
    ]
    # A currency is mapped only by an explicit entry: enabled in Xero as is, is Xero's to say.
    assert seen.currencies == [
        Seen("AUD", False, T1),
        Seen("NZD", False, T1),
        Seen("EUR", True, T2),
    ]


def test_a_default_account_maps_every_category() -> None:
    last = LastSeen(revenue_categories={"anything": T1})
    seen = seen_codes(last, Mappings(), OrgSettings(default_account_code="200"))
    assert seen.revenue_categories == [Seen("anything", True, T1)]


class MemoryStore:
    """The OrgConfigStore's seen half, counting writes."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Used, datetime]] = []
        self.mappings: Mappings | None = None
        self.settings: OrgSettings | None = None

    async def get_settings(self, org_id: str) -> OrgSettings | None:
        return self.settings

    async def get_mappings(self, org_id: str) -> Mappings | None:
        return self.mappings

    async def get_settings_and_mappings(
        self, org_id: str
    ) -> tuple[OrgSettings | None, Mappings | None]:
        return self.settings, self.mappings

    async def record_used(self, org_id: str, used: Used, at: datetime) -> None:
        self.writes.append((org_id, used, at))

    async def seen_since(self, org_id: str, since: datetime) -> LastSeen:
        def recent(name: str) -> dict[str, datetime]:
            return {
                code: at
                for o, used, at in self.writes
                if o == org_id and at >= since
                for code in getattr(used, name)
            }

        return LastSeen(recent("currencies"), recent("revenue_categories"), recent("tax_codes"))


async def test_seen_covers_the_recent_window_only() -> None:
    store, clock = MemoryStore(), FakeClock()
    config = ConfigService(store, None, None, recent_currency_days=30, clock=clock)  # type: ignore[arg-type]
    await config.record_used("org_a", Used(tax_codes=frozenset({"OLD"})))
    clock.advance(timedelta(days=31).total_seconds())
    await config.record_used("org_a", Used(tax_codes=frozenset({"NEW"})))
    store.mappings = Mappings(tax_rates={"NEW": "OUTPUT2"})
    seen = await config.seen("org_a")
    assert seen.tax_codes == [Seen("NEW", True, clock())]
    assert seen.currencies == [] and seen.revenue_categories == []


class OneReadOnly(MemoryStore):
    """Settings and mappings only in one read."""

    async def get_settings(self, org_id: str) -> OrgSettings | None:
        raise AssertionError("the settings read alone")

    async def get_mappings(self, org_id: str) -> Mappings | None:
        raise AssertionError("the mappings read alone")


async def test_seen_reads_the_settings_and_the_mappings_once() -> None:
    store = OneReadOnly()
    store.mappings = Mappings(tax_rates={"T1": "OUTPUT2"})
    config = ConfigService(store, None, None)  # type: ignore[arg-type]
    await config.record_used("org_a", Used(tax_codes=frozenset({"T1", "T2"})))
    seen = await config.seen("org_a")
    assert sorted((s.value, s.mapped) for s in seen.tax_codes) == [("T1", True), ("T2", False)]


async def test_settings_and_mappings_come_with_the_defaults_where_unset() -> None:
    store = MemoryStore()
    config = ConfigService(store, None, None)  # type: ignore[arg-type]
    assert await config.settings_and_mappings("org_a") == (OrgSettings(), Mappings())
    store.mappings = Mappings(tax_rates={"GST15": "OUTPUT2"})
    assert await config.settings_and_mappings("org_a") == (OrgSettings(), store.mappings)
    store.settings = OrgSettings(auto_create_contacts=True)
    assert await config.settings_and_mappings("org_a") == (store.settings, store.mappings)


class StubXero:
    async def currencies(self, scope: XeroScope) -> list[Any]:
        return []

    async def tax_rates(self, scope: XeroScope) -> list[Any]:
        return []

    async def accounts(self, scope: XeroScope) -> list[Any]:
        return []


class NoContacts:
    async def resolve(self, scope: XeroScope, customers: list[Any], *, auto_create: bool) -> Any:
        assert customers == []  # every invoice is refused before contacts
        return {}, {}


class PreparingConfig:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, Used]] = []

    async def settings_and_mappings(self, org_id: str) -> tuple[OrgSettings, Mappings]:
        return OrgSettings(), Mappings()

    async def record_used(self, org_id: str, used: Used) -> None:
        self.recorded.append((org_id, used))


async def test_the_pipeline_records_a_whole_batch_in_one_write() -> None:
    config = PreparingConfig()
    preparer = Preparer(
        StubXero(),  # type: ignore[arg-type]
        config,
        OrgDataCache(StubXero(), ttl_seconds=60),  # type: ignore[arg-type]
        NoContacts(),  # type: ignore[arg-type]
        "http://console/{org_id}/{invoice_id}",
    )
    invoices = [
        invoice(n, "NZD" if n % 2 else "EUR", tax_code=f"T{n % 3}", revenue_category=f"c{n % 4}")
        for n in range(1, 41)
    ]
    targets = [
        Target(i, [SyncAsk(f"e{i.invoice_id}", EventType.INVOICE_CREATED, i)]) for i in invoices
    ]
    sync_results: dict[str, SyncResult] = {}
    writes = await preparer.writes(
        XeroScope("org_a", "t1"), OrgSettings(), Mappings(), targets, {}, sync_results
    )
    assert writes == [] and len(sync_results) == 40  # unmapped: refused before Xero
    assert config.recorded == [("org_a", Used.by(invoices))]
    assert config.recorded[0][1].tax_codes == {"T0", "T1", "T2"}


class XeroDown(StubXero):
    async def currencies(self, scope: XeroScope) -> list[Any]:
        raise XeroUnavailable("Xero answered 503")


class SlowRecording(PreparingConfig):
    async def record_used(self, org_id: str, used: Used) -> None:
        for _ in range(5):  # a store round trip: longer than the preparing takes to fail
            await asyncio.sleep(0)
        await super().record_used(org_id, used)


def preparer_for(xero: StubXero, config: PreparingConfig) -> Preparer:
    return Preparer(
        xero,  # type: ignore[arg-type]
        config,
        OrgDataCache(xero, ttl_seconds=60),  # type: ignore[arg-type]
        NoContacts(),  # type: ignore[arg-type]
        "http://console/{org_id}/{invoice_id}",
    )


def targets_of(invoices: list[Invoice]) -> list[Target]:
    return [
        Target(i, [SyncAsk(f"e{i.invoice_id}", EventType.INVOICE_CREATED, i)]) for i in invoices
    ]


async def test_the_used_codes_are_recorded_even_when_the_preparing_fails() -> None:
    config = SlowRecording()
    invoices = [invoice(n, tax_code="T1") for n in range(1, 4)]
    with pytest.raises(XeroUnavailable):
        await preparer_for(XeroDown(), config).writes(
            XeroScope("org_a", "t1"), OrgSettings(), Mappings(), targets_of(invoices), {}, {}
        )
    assert config.recorded == [("org_a", Used.by(invoices))]  # not cut short


async def test_a_batch_of_voids_only_records_no_codes() -> None:
    config = PreparingConfig()
    void = invoice(1).model_copy(update={"status": InvoiceStatus.VOID})
    sync_results: dict[str, SyncResult] = {}
    writes = await preparer_for(StubXero(), config).writes(
        XeroScope("org_a", "t1"),
        OrgSettings(),
        Mappings(),
        targets_of([void]),
        {"inv_1": InvoiceRecord("org_a", "inv_1")},
        sync_results,
    )
    assert writes == [] and "inv_1" in sync_results  # nothing of ours in Xero to void
    assert config.recorded == []


def test_any_code_becomes_a_safe_field_name_and_comes_back() -> None:
    for code in ["consulting", "hardware.parts", "$odd", "100%", "a\x00b", "Māori café", "x y/z"]:
        key = field_key(code)
        assert "." not in key and "\x00" not in key and not key.startswith("$")
        assert unquote(key) == code
    assert field_key("hardware.parts") == "hardware%2Eparts"
    assert "." not in field_key("\ud800.")  # not text at all: escaped, never an error
