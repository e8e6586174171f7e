"""What recent invoices used, and whether each code has a mapping: the operator console's
"needs mapping" lists. Pure.

    seen = seen_codes(last_seen, mappings, settings)
    [s.value for s in seen.tax_codes if not s.mapped]     # the tax codes still to map

Mapped means, for a revenue category: an account mapping, or the organisation has a default
account; for a tax code: a tax rate mapping; for a currency: an explicit currency mapping
(whether Xero has the currency enabled as it is cannot be known without asking Xero; the
mapping check does that).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from xero_connector.domain import LastSeen, Mappings, OrgSettings


@dataclass(frozen=True, slots=True)
class Seen:
    value: str
    mapped: bool
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class SeenCodes:
    revenue_categories: list[Seen]
    tax_codes: list[Seen]
    currencies: list[Seen]


def _rows(used: Mapping[str, datetime], mapped: Callable[[str], bool]) -> list[Seen]:
    """Unmapped first, then by value."""
    rows = [Seen(value, mapped(value), at) for value, at in used.items()]
    return sorted(rows, key=lambda s: (s.mapped, s.value))


def seen_codes(last_seen: LastSeen, mappings: Mappings, settings: OrgSettings) -> SeenCodes:
    has_default = settings.default_account_code is not None
    return SeenCodes(
        revenue_categories=_rows(
            last_seen.revenue_categories, lambda c: has_default or c in mappings.accounts
        ),
        tax_codes=_rows(last_seen.tax_codes, lambda t: t in mappings.tax_rates),
        currencies=_rows(last_seen.currencies, lambda c: c in mappings.currencies),
    )
