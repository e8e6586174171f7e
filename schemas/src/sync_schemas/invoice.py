"""The invoice as the upstream invoicing system (Voltasis) describes it."""

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

_DECIMAL_PATTERN = r"^-?\d{1,15}(\.\d{1,6})?$"
# ASCII digits only, as the pattern means in the JSON schema: Python's \d also matches "٣".
_DECIMAL_RE = re.compile(_DECIMAL_PATTERN, re.ASCII)


def _parse_decimal(value: object) -> Decimal:
    # Only strings on the wire: JSON numbers lose precision on their way to Xero.
    if isinstance(value, Decimal) and _fits(value):
        return value
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        return Decimal(value)
    raise ValueError('must be a decimal string such as "150.00" (at most 15 digits, 6 decimals)')


def _fits(value: Decimal) -> bool:
    """A Decimal (from a Python caller) within the bounds of the strings, so that its own wire
    form decodes again. The exponent is checked before formatting: 1E+999999999 would be a
    billion digits."""
    exponent = value.as_tuple().exponent
    return (
        isinstance(exponent, int)  # not NaN or Infinity
        and exponent >= -6
        and value.adjusted() < 15
        and _DECIMAL_RE.fullmatch(format(value, "f")) is not None
    )


DecimalString = Annotated[
    Decimal,
    PlainValidator(_parse_decimal),
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": _DECIMAL_PATTERN, "examples": ["150.00"]}),
]
"""A money amount or quantity written as a decimal string, e.g. ``"150.00"``."""

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
IDENTIFIER_MAX_LENGTH = 100

Identifier = Annotated[
    str, Field(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN)
]
"""An id that is safe in a URL path segment and a Kafka key."""

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

# A 64-bit signed integer: what MongoDB (and most stores) keep; a larger one is refused here
# rather than failing where it is stored.
MAX_VERSION = 2**63 - 1
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class ContractModel(BaseModel):
    """Base of every contract model: immutable, and tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    VOID = "void"


class LineAmountType(StrEnum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"
    NO_TAX = "no_tax"


class Customer(ContractModel):
    id: Identifier
    name: str = Field(min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=255)


class InvoiceLine(ContractModel):
    description: str = Field(min_length=1, max_length=4000)
    quantity: DecimalString
    unit_price: DecimalString
    tax_code: str | None = Field(default=None, min_length=1, max_length=50)
    revenue_category: str | None = Field(default=None, min_length=1, max_length=100)


class Invoice(ContractModel):
    """``data`` of ``invoice.created.v1`` and ``invoice.updated.v1``."""

    org_id: Identifier
    invoice_id: Identifier
    invoice_number: str = Field(min_length=1, max_length=255)
    version: Version = Field(description="Grows with every change of the invoice.")
    customer: Customer
    currency: CurrencyCode
    issue_date: date
    due_date: date | None = None
    status: InvoiceStatus
    line_amount_type: LineAmountType
    reference: str | None = Field(default=None, max_length=255)
    lines: list[InvoiceLine] = Field(min_length=1)
