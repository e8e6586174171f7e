"""The pieces of ``make demo`` that need no stack (the cases themselves run in tests/e2e/),
and the README's troubleshooting covering every error code."""

import re

from local_infra.config_reference import README
from local_infra.demo import CASES, Demo
from sync_schemas import ErrorCode


def demo(run: str) -> Demo:
    return Demo(
        invoice_events_url="http://127.0.0.1:1/invoice_events",
        sync_log_url="http://127.0.0.1:1/sync_log",
        xero_connector_url="http://x",
        sandbox_url="http://s",
        api_key="k",
        run=run,
    )


def test_invoices_of_one_run_and_of_two_runs_never_share_ids_or_numbers() -> None:
    first, second = demo("r1"), demo("r2")
    invoices = [d.invoice(slug) for d in (first, second) for slug in ("clean", "eur", "twice")]
    assert len({i["invoice_id"] for i in invoices}) == len(invoices)
    assert len({i["invoice_number"] for i in invoices}) == len(invoices)
    eur = first.invoice("eur", currency="EUR", tax_code="EXEMPT")
    assert eur["currency"] == "EUR" and eur["lines"][0]["tax_code"] == "EXEMPT"
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", eur["invoice_id"])


def test_a_row_shows_the_error_and_what_to_do_only_when_failed() -> None:
    d = demo("r")
    error = {"error_code": "contact_missing", "remediation": "Create the contact"}
    failed = d.row("c", {"invoice_id": "i", "status": "failed", "last_error": error})
    assert (failed.error_code, failed.remediation) == ("contact_missing", "Create the contact")
    synced = d.row("c", {"invoice_id": "i", "status": "synced", "last_error": error}, "note")
    assert (synced.error_code, synced.remediation, synced.note) == (None, None, "note")


def test_every_seed_case_is_in_the_demo() -> None:
    names = [case.__name__ for case in CASES]
    assert names == [
        "clean_invoice",
        "missing_contact",
        "currency_not_enabled",
        "tax_rate_unmapped",
        "manual_and_automatic",
        "expired_connection",
    ]


def test_the_readme_troubleshooting_covers_every_error_code() -> None:
    text = README.read_text()
    troubleshooting = text[text.index("## Troubleshooting") :]
    troubleshooting = troubleshooting[: troubleshooting.index("\n## ")]
    for code in ErrorCode:
        assert f"| `{code.value}` |" in troubleshooting, code
