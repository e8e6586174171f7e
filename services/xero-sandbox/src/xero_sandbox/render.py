"""Domain objects as Xero's JSON (field names and casing of xero_accounting.yaml)."""

from __future__ import annotations

from .model import Account, Contact, Invoice, LineItem, Org, Payment, TaxRate
from .totals import UNIT_DP, round_unit
from .xero_json import JsonDict, date_string, money, ms_date, ms_datetime, utc_string

_VERSION_BY_COUNTRY = {"NZ": "NZ", "AU": "AU", "US": "US", "GB": "UK"}
_TIMEZONE_BY_COUNTRY = {
    "NZ": "NEWZEALANDSTANDARDTIME",
    "AU": "AUSEASTERNSTANDARDTIME",
    "US": "EASTERNSTANDARDTIME",
    "GB": "GMTSTANDARDTIME",
}


def organisation(org: Org) -> JsonDict:
    return {
        "OrganisationID": org.tenant_id,
        "APIKey": "",
        "Name": org.name,
        "LegalName": org.name,
        "PaysTax": True,
        "Version": _VERSION_BY_COUNTRY.get(org.country_code, "GLOBAL"),
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 3,
        "SalesTaxBasis": "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms_datetime(org.created_at),
        "OrganisationEntityType": "COMPANY",
        "Timezone": _TIMEZONE_BY_COUNTRY.get(org.country_code, "UTC"),
        "ShortCode": org.short_code,
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


def currency(code: str, description: str) -> JsonDict:
    return {"Code": code, "Description": description}


def tax_rate(rate: TaxRate) -> JsonDict:
    body: JsonDict = {
        "Name": rate.name,
        "TaxType": rate.tax_type,
        "CanApplyToAssets": True,
        "CanApplyToEquity": True,
        "CanApplyToExpenses": rate.can_apply_to_expenses,
        "CanApplyToLiabilities": True,
        "CanApplyToRevenue": rate.can_apply_to_revenue,
        "DisplayTaxRate": money(rate.effective_rate),
        "EffectiveRate": money(rate.effective_rate),
        "Status": rate.status,
        "TaxComponents": [
            {
                "Name": "GST" if rate.effective_rate else "No Tax",
                "Rate": money(rate.effective_rate),
                "IsCompound": False,
                "IsNonRecoverable": False,
            }
        ],
    }
    if rate.report_tax_type:
        body["ReportTaxType"] = rate.report_tax_type
    return body


def account(item: Account, updated_at: float) -> JsonDict:
    body: JsonDict = {
        "AccountID": item.account_id,
        "Code": item.code,
        "Name": item.name,
        "Status": item.status,
        "Type": item.type,
        "TaxType": item.tax_type or "NONE",
        "Class": item.klass,
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": False,
        "ReportingCode": item.klass[:3],
        "ReportingCodeName": item.klass.title(),
        "HasAttachments": False,
        "UpdatedDateUTC": ms_datetime(updated_at),
        "AddToWatchlist": False,
    }
    if item.system_account:
        body["SystemAccount"] = item.system_account
    if item.type == "BANK":
        body["BankAccountNumber"] = item.bank_account_number or ""
        body["BankAccountType"] = "BANK"
        body["CurrencyCode"] = item.currency_code
    return body


def _contact_head(item: Contact) -> JsonDict:
    """The fields a Contact shows both in full and embedded in an Invoice."""
    body: JsonDict = {
        "ContactID": item.contact_id,
        "ContactStatus": item.status,
        "Name": item.name,
    }
    if item.contact_number is not None:
        body["ContactNumber"] = item.contact_number
    if item.email is not None:
        body["EmailAddress"] = item.email
    return body


def contact(item: Contact) -> JsonDict:
    body = _contact_head(item)
    body.update(item.extra)
    body.setdefault("Addresses", [])
    body.setdefault("Phones", [])
    body.update(
        {
            "UpdatedDateUTC": ms_datetime(item.updated_at),
            "ContactGroups": [],
            "IsSupplier": item.is_supplier,
            "IsCustomer": item.is_customer,
            "SalesTrackingCategories": [],
            "PurchasesTrackingCategories": [],
            "ContactPersons": body.get("ContactPersons", []),
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
    )
    return body


def contact_summary(item: Contact) -> JsonDict:
    """The Contact as embedded in an Invoice: Xero trims it to the essentials."""
    body = _contact_head(item)
    body.update(
        {
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasValidationErrors": False,
        }
    )
    return body


def line_item(line: LineItem, unit_dp: int = UNIT_DP) -> JsonDict:
    """``unit_dp`` is the request's: without ``unitdp=4`` Xero answers UnitAmount at 2 dp even
    when it holds 4."""
    unit_amount = line.unit_amount
    body: JsonDict = {
        "LineItemID": line.line_item_id,
        "Description": line.description or "",
        "Quantity": money(line.quantity) if line.quantity is not None else 1.0,
        "UnitAmount": money(round_unit(unit_amount, unit_dp)) if unit_amount is not None else 0.0,
        "TaxAmount": money(line.tax_amount),
        "LineAmount": money(line.line_amount),
        "Tracking": [],
    }
    if line.account_code is not None:
        body["AccountCode"] = line.account_code
    if line.tax_type is not None:
        body["TaxType"] = line.tax_type
    if line.item_code is not None:
        body["ItemCode"] = line.item_code
    if line.discount_rate is not None:
        body["DiscountRate"] = money(line.discount_rate)
    return body


def payment(item: Payment, currency_rate: float) -> JsonDict:
    """A payment as an invoice embeds it."""
    return {
        "PaymentID": item.payment_id,
        "Date": ms_date(item.date),
        "Amount": money(item.amount),
        "CurrencyRate": currency_rate,
        "HasAccount": False,
        "HasValidationErrors": False,
    }


def invoice(item: Invoice, contact_json: JsonDict, unit_dp: int = UNIT_DP) -> JsonDict:
    rate = money(item.currency_rate)
    body: JsonDict = {
        "Type": item.type,
        "InvoiceID": item.invoice_id,
        "InvoiceNumber": item.invoice_number or "",
        "Reference": item.reference or "",
        "Payments": [payment(paid, rate) for paid in item.payments],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": money(item.amount_due),
        "AmountPaid": money(item.amount_paid),
        "AmountCredited": 0.0,
        "SentToContact": False,
        "CurrencyRate": rate,
        "IsDiscounted": any(line.discount_rate for line in item.line_items),
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": contact_json,
    }
    if item.date is not None:
        body["DateString"] = date_string(item.date)
        body["Date"] = ms_date(item.date)
    if item.due_date is not None:
        body["DueDateString"] = date_string(item.due_date)
        body["DueDate"] = ms_date(item.due_date)
    body.update(
        {
            "Status": item.status,
            "LineAmountTypes": item.line_amount_types,
            "LineItems": [line_item(line, unit_dp) for line in item.line_items],
            "SubTotal": money(item.sub_total),
            "TotalTax": money(item.total_tax),
            "Total": money(item.total),
            "UpdatedDateUTC": ms_datetime(item.updated_at),
            "UpdatedDateUTCString": utc_string(item.updated_at) + "Z",
            "CurrencyCode": item.currency_code,
        }
    )
    if item.fully_paid_on is not None:
        body["FullyPaidOnDate"] = ms_date(item.fully_paid_on)
    if item.url:
        body["Url"] = item.url
    return body
