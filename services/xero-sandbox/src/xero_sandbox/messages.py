"""The validation messages the sandbox answers with.

Texts marked "Xero" are what Xero itself sends (see design/XERO.md and public reports); the
others are the sandbox's own wording where no reliable Xero text is known. The connector's
classifier keys on these strings, so change them only together with it.
"""

from __future__ import annotations

from decimal import Decimal

# Xero
INVOICE_NUMBER_NOT_UNIQUE = "Invoice # must be unique."
# Xero (reported)
CONTACT_ID_NOT_FOUND = "The Contact with the specified ContactID could not be found"
# Xero
CONTACT_NAME_EMPTY = "Contact Name cannot be empty."
# Sandbox wording
CONTACT_MISSING = "A Contact must be specified for this type of transaction"
# Xero
INVOICE_NOT_MODIFIABLE = "Invoice not of valid status for modification"
# Xero
INVOICE_NOT_CREATABLE = "Invoice not of valid status for creation"
# Sandbox wording
INVOICE_TYPE_MISSING = "Invoice Type must be specified"
# Sandbox wording
INVOICE_ID_NOT_FOUND = "The Invoice with the specified InvoiceID could not be found"
# Xero
LINE_DESCRIPTION_MISSING = "The description field is mandatory for each line item."
# Sandbox wording
LINE_ITEMS_MISSING = "An invoice must have at least one line item."
# Sandbox wording
DUE_DATE_MISSING = "Due Date must be specified"
# Sandbox wording
DATE_INVALID = "Date must be a valid date"
# Xero
ACCOUNT_MISSING = "Account must be valid."
# Xero
EMAIL_INVALID = "Email address must be valid."
# Sandbox wording
CONTACT_NUMBER_TOO_LONG = "The Contact Number must not exceed 50 characters."
# Xero (reported; the control API's payments)
PAYMENT_NOT_AUTHORISED = "Payments can only be made against Authorised documents"
# Xero (xero_accounting.yaml's Payments example)
PAYMENT_EXCEEDS_DUE = "Payment amount exceeds the amount outstanding on this document"
# Sandbox wording
PAYMENT_NOT_POSITIVE = "Payment amount must be greater than zero"


def account_code_invalid(code: str) -> str:
    # Xero
    return f"Account code '{code}' is not a valid code for this document."


def tax_type_invalid(tax_type: str) -> str:
    # Xero
    return (
        f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of "
        "transaction."
    )


def currency_not_subscribed(code: str) -> str:
    # Xero (reported)
    return f"Organisation is not subscribed to currency {code}"


def contact_name_taken(name: str) -> str:
    # Xero
    return (
        f"The contact name {name} is already assigned to another contact. The contact name "
        "must be unique across all active contacts."
    )


def contact_number_taken(number: str) -> str:
    # Sandbox wording, modelled on the contact-name message
    return (
        f"The contact number {number} is already assigned to another contact. The contact "
        "number must be unique across all contacts."
    )


def line_total_mismatch(given: Decimal, expected: Decimal) -> str:
    # Xero
    return f"The line total {given:.2f} does not match the expected line total {expected:.2f}"
