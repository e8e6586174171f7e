"""Pure: an invoice's lines as the connector sends them under the current mappings.

Shown on the invoice page ("what was sent"): each line with the Xero account code and tax type
the mappings give it, or why it has none.
"""

from dataclasses import dataclass

from console.clients.connector import Mappings
from console.clients.invoices import Snapshot


@dataclass(frozen=True, slots=True)
class MappedLine:
    description: str
    quantity: str
    unit_price: str
    revenue_category: str | None
    account_code: str | None  # None: unmapped and no default
    tax_code: str | None
    tax_type: str | None  # None: the tax code has no mapping


@dataclass(frozen=True, slots=True)
class MappedInvoice:
    currency: str
    xero_currency: str
    lines: list[MappedLine]


def mapped(snapshot: Snapshot, mappings: Mappings, default_account: str | None) -> MappedInvoice:
    lines = [
        MappedLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            revenue_category=line.revenue_category,
            account_code=mappings.accounts.get(line.revenue_category or "", default_account),
            tax_code=line.tax_code,
            tax_type=mappings.tax_rates.get(line.tax_code) if line.tax_code else None,
        )
        for line in snapshot.lines
    ]
    currency = snapshot.currency
    return MappedInvoice(currency, mappings.currencies.get(currency, currency), lines)
