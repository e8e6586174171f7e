"""Pure: what an operator does about each error code, and which console screen does it.

fix = FIXES["tax_rate_unmapped"]
fix.action, fix.screen      # "Map the tax code to an active Xero tax rate", "mappings"
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fix:
    action: str
    screen: str  # one of SCREENS' keys
    label: str


SCREENS = {
    "connection": "",
    "mappings": "/mappings",
    "settings": "/settings",
    "sync-log": "/sync-log",
}

FIXES: dict[str, Fix] = {
    "not_connected": Fix("Connect the organisation to Xero.", "connection", "Connect"),
    "connection_expired": Fix(
        "Reconnect: the waiting invoices re-sync by themselves afterwards.",
        "connection",
        "Reconnect",
    ),
    "contact_missing": Fix(
        "Turn on auto-create contacts (or add the contact in Xero), then re-sync.",
        "settings",
        "Open settings",
    ),
    "currency_not_enabled": Fix(
        "Enable the currency in Xero or map it to an enabled one, then re-sync.",
        "mappings",
        "Map currencies",
    ),
    "tax_rate_unmapped": Fix(
        "Map the tax code to an active Xero tax rate, then re-sync.", "mappings", "Map tax rates"
    ),
    "tax_rate_invalid": Fix(
        "Map the tax code to a tax rate that is active in Xero, then re-sync.",
        "mappings",
        "Map tax rates",
    ),
    "account_unmapped": Fix(
        "Map the revenue category to an account, or set a default account, then re-sync.",
        "mappings",
        "Map accounts",
    ),
    "account_invalid": Fix(
        "Map the revenue category to an active revenue account, then re-sync.",
        "mappings",
        "Map accounts",
    ),
    "xero_validation": Fix(
        "Read Xero's messages on the invoice, correct it upstream, then re-sync.",
        "sync-log",
        "Show them",
    ),
    "rate_limited": Fix(
        "Nothing to do: the sync runs again after Xero's daily limit resets.",
        "sync-log",
        "Show them",
    ),
    "xero_unavailable": Fix("Re-sync once Xero answers again.", "sync-log", "Show them"),
    "invalid_event": Fix(
        "Fix the event at its source and send it again (see the dead-letter topic).",
        "sync-log",
        "Show them",
    ),
    "invoice_number_taken": Fix(
        "Renumber the invoice upstream, or link it to the Xero invoice that has the number.",
        "sync-log",
        "Show them",
    ),
}

UNKNOWN = Fix("Read the message on the invoice.", "sync-log", "Show them")


def fix_for(error_code: str) -> Fix:
    return FIXES.get(error_code, UNKNOWN)


def fix_url(org_id: str, error_code: str) -> str:
    """Where the fix is made; the Sync Log screen opens filtered on the code."""
    fix = fix_for(error_code)
    path = f"/orgs/{org_id}{SCREENS[fix.screen]}"
    return f"{path}?status=failed&error_code={error_code}" if fix.screen == "sync-log" else path


# What a saved change can fix: re-syncing the invoices that failed on these codes may now work.
MAPPING_FIXES = {
    "accounts": ("account_unmapped", "account_invalid"),
    "tax_rates": ("tax_rate_unmapped", "tax_rate_invalid"),
    "currencies": ("currency_not_enabled",),
}


def codes_fixed_by_mappings(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> list[str]:
    """The error codes a mapping change may fix: those of every section that changed."""
    return [
        code
        for section, codes in MAPPING_FIXES.items()
        if before.get(section, {}) != after.get(section, {})
        for code in codes
    ]


def codes_fixed_by_settings(
    before_auto_create: bool,
    after_auto_create: bool,
    before_default: str | None,
    after_default: str | None,
) -> list[str]:
    """Turning on auto-create fixes missing contacts; a new default account fixes unmapped
    (and wrongly mapped) categories."""
    codes = []
    if after_auto_create and not before_auto_create:
        codes.append("contact_missing")
    if after_default and after_default != before_default:
        codes.append("account_unmapped")
    return codes
