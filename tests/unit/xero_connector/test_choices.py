"""The mapping choices: what the live organisation offers that the check would accept, read
through the organisation cache (one read per TTL, again on refresh)."""

from datetime import UTC, datetime
from decimal import Decimal

from tests.unit.xero_connector.fakes import FakeClock
from xero_connector.checks import check_mappings
from xero_connector.choices import decimal_text, revenue_choices
from xero_connector.configuration import ConfigService
from xero_connector.domain import LastSeen, Mappings, OrgSettings
from xero_connector.org_data import OrgData, OrgDataCache
from xero_connector.ports import XeroScope
from xero_connector.xero_models import Account, Currency, Organisation, TaxRate

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TAX_RATES = [
    TaxRate("OUTPUT2", "GST on Income", "ACTIVE", True, Decimal("15.0000")),
    TaxRate("OUTPUT", "GST 12.5%", "ARCHIVED", True, Decimal("12.5")),
    TaxRate("INPUT2", "GST on Expenses", "ACTIVE", False, Decimal(15)),
    TaxRate("PENDINGTAX", "New", "PENDING", True, None),
    TaxRate("EXEMPTOUTPUT", "Exempt", "ACTIVE", True, Decimal("0E-4")),
]
ACCOUNTS = [
    Account("1", "260", "Other Revenue", "OTHERINCOME", "REVENUE", "ACTIVE", "OUTPUT2"),
    Account("2", "200", "Sales", "REVENUE", "REVENUE", "ACTIVE", "OUTPUT2"),
    Account("3", "210", "Old Sales", "REVENUE", "REVENUE", "ARCHIVED", None),
    Account("4", "400", "Advertising", "EXPENSE", "EXPENSE", "ACTIVE", "INPUT2"),
    Account("5", "", "No code", "REVENUE", "REVENUE", "ACTIVE", None),
]
CURRENCIES = [Currency("USD", "US Dollar"), Currency("AUD", "Australian Dollar")]
ORG = Organisation("o1", "Demo", "NZD", "NZ")


def data() -> OrgData:
    return OrgData.of(CURRENCIES, TAX_RATES, ACCOUNTS, AT)


def test_only_what_the_check_accepts_is_offered() -> None:
    choices = revenue_choices(data(), ORG)
    assert [(a.code, a.type) for a in choices.accounts] == [
        ("200", "REVENUE"),
        ("260", "OTHERINCOME"),
    ]
    assert [r.tax_type for r in choices.tax_rates] == ["EXEMPTOUTPUT", "OUTPUT2"]
    assert [c.code for c in choices.currencies] == ["AUD", "NZD", "USD"]  # the base added
    assert choices.base_currency == "NZD" and choices.fetched_at == AT

    # Every choice passes the mapping check against the same data.
    mappings = Mappings(
        accounts={f"cat{a.code}": a.code for a in choices.accounts},
        tax_rates={f"tax{r.tax_type}": r.tax_type for r in choices.tax_rates},
    )
    problems = check_mappings(
        OrgSettings(),
        mappings,
        tax_rates=TAX_RATES,
        accounts=ACCOUNTS,
        currencies=CURRENCIES,
        seen_currencies=[],
        org_id="org_x",
    )
    assert problems == []


def test_a_listed_base_currency_is_not_repeated_and_an_unknown_one_is_null() -> None:
    listed = revenue_choices(OrgData.of([Currency("NZD", "NZ Dollar")], [], [], AT), ORG)
    assert [(c.code, c.description) for c in listed.currencies] == [("NZD", "NZ Dollar")]
    unknown = revenue_choices(data(), None)
    assert unknown.base_currency is None
    assert [c.code for c in unknown.currencies] == ["AUD", "USD"]


def test_rates_are_plain_decimal_strings() -> None:
    assert decimal_text(Decimal("15.0000")) == "15.0000"
    assert decimal_text(Decimal("0E-4")) == "0.0000"
    assert decimal_text(Decimal("1E+1")) == "10"
    assert decimal_text(None) == "0"


class CountingXero:
    """The reads the cache makes, counted by endpoint."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def scope(self, org_id: str) -> XeroScope:
        return XeroScope(org_id, "tenant-1", 1)

    async def currencies(self, scope: XeroScope) -> list[Currency]:
        self.calls.append("Currencies")
        return CURRENCIES

    async def tax_rates(self, scope: XeroScope) -> list[TaxRate]:
        self.calls.append("TaxRates")
        return TAX_RATES

    async def accounts(self, scope: XeroScope) -> list[Account]:
        self.calls.append("Accounts")
        return ACCOUNTS

    async def organisation(self, scope: XeroScope) -> Organisation:
        self.calls.append("Organisation")
        return ORG


class NoStore:
    async def get_settings(self, org_id: str) -> None:
        return None

    async def get_mappings(self, org_id: str) -> None:
        return None


async def test_choices_come_from_the_cache_and_refresh_reads_xero_again() -> None:
    xero, clock = CountingXero(), FakeClock()
    cache = OrgDataCache(xero, ttl_seconds=300, clock=clock)  # type: ignore[arg-type]
    config = ConfigService(NoStore(), cache, xero, clock=clock)  # type: ignore[arg-type]

    first = await config.choices("org_a")
    assert sorted(xero.calls) == ["Accounts", "Currencies", "Organisation", "TaxRates"]
    clock.advance(10)
    again = await config.choices("org_a")
    assert len(xero.calls) == 4 and again == first  # within the TTL: no Xero call

    # The pipeline's cached read is the same one: choices add no call to it.
    await cache.get(XeroScope("org_a", "tenant-1", 1))
    assert len(xero.calls) == 4

    refreshed = await config.choices("org_a", refresh=True)
    assert len(xero.calls) == 8 and refreshed.fetched_at == clock()

    clock.advance(301)  # past the TTL: read again
    await config.choices("org_a")
    assert len(xero.calls) == 12


class StoredMappings(NoStore):
    def __init__(self, mappings: Mappings) -> None:
        self.stored = mappings

    async def get_mappings(self, org_id: str) -> Mappings:  # type: ignore[override]
        return self.stored

    async def seen_since(self, org_id: str, since: datetime) -> LastSeen:
        return LastSeen(currencies={"EUR": since})


async def test_a_proposal_is_checked_instead_of_the_stored_mappings_and_not_saved() -> None:
    xero, clock = CountingXero(), FakeClock()
    store = StoredMappings(Mappings(tax_rates={"GST15": "OUTPUT2"}))
    cache = OrgDataCache(xero, ttl_seconds=300, clock=clock)  # type: ignore[arg-type]
    config = ConfigService(store, cache, xero, clock=clock)  # type: ignore[arg-type]

    stored = await config.check("org_a")
    assert [p.field for p in stored] == ["currencies.EUR"]

    proposal = Mappings(tax_rates={"GST15": "INPUT2"}, currencies={"EUR": "AUD"})
    problems = await config.check("org_a", proposal)
    assert [(p.kind, p.field) for p in problems] == [
        ("tax_type_not_for_revenue", "tax_rates.GST15")
    ]
    assert store.stored == Mappings(tax_rates={"GST15": "OUTPUT2"})
