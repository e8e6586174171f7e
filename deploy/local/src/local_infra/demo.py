"""``make demo``: every seed case, driven over the services' HTTP APIs against a running stack.

    demo = Demo.from_settings(StackSettings())        # the URLs and key `make run` printed
    rows = clean_invoice(demo)                        # one function per case, each a list of rows
    run_all(demo)                                     # every case, in order

Each case publishes its own invoices (ids and numbers carry ``demo.run``, so cases and runs
never collide), sets up what it needs (auto-create off, ``EXEMPT`` unmapped, ...), waits for the
outcome by polling the sync-log API and leaves the demo organisation as ``make run`` set it up.
A case that does not reach the expected outcome raises :class:`DemoError` saying what it
waited for and what it saw. The e2e tests call the same functions.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from local_infra import demo_org
from local_infra.stack_settings import StackSettings


class DemoError(RuntimeError):
    """A demo step did not reach its expected outcome; the message says what and why."""


@dataclass(frozen=True)
class Row:
    """One line of the summary: an invoice's outcome at one step of a case."""

    case: str
    invoice_id: str
    invoice_number: str
    status: str
    error_code: str | None = None
    remediation: str | None = None
    note: str = ""


@dataclass
class Demo:
    invoice_events_url: str
    xero_connector_url: str
    sync_log_url: str
    sandbox_url: str
    api_key: str
    org_id: str = demo_org.DEMO_ORG_ID
    run: str = field(default_factory=lambda: time.strftime("%H%M%S") + uuid.uuid4().hex[:4])
    timeout_s: float = 45.0
    poll_s: float = 0.25
    tenant_id: str = ""
    console_url: str = "http://127.0.0.1:8005"

    @classmethod
    def from_settings(cls, settings: StackSettings, **kwargs: Any) -> "Demo":
        return cls(
            invoice_events_url=settings.invoice_events_url,
            xero_connector_url=settings.xero_connector_url,
            sync_log_url=settings.sync_log_url,
            sandbox_url=settings.sandbox_url,
            api_key=settings.dev_api_key,
            console_url=settings.console_url,
            **kwargs,
        )

    # -- HTTP ------------------------------------------------------------------------------
    def call(self, method: str, url: str, expect: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = httpx.request(method, url, headers=headers, timeout=15, **kwargs)
        except httpx.TransportError as exc:
            raise DemoError(
                f"{method} {url}: {type(exc).__name__} — is `make run` up? ({exc})"
            ) from exc
        if response.status_code != expect:
            raise DemoError(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def connector(self, path: str) -> str:
        return f"{self.xero_connector_url}/v1/orgs/{self.org_id}{path}"

    def tenant(self) -> str:
        if not self.tenant_id:
            connection = self.call("GET", self.connector("/connection"))
            if not connection.get("tenant_id"):
                raise DemoError(
                    f"{self.org_id} has no Xero connection ({connection.get('status')}); "
                    "start the stack with `make run`, which connects it"
                )
            self.tenant_id = connection["tenant_id"]
        return self.tenant_id

    # -- invoices --------------------------------------------------------------------------
    def invoice(
        self,
        slug: str,
        *,
        customer: dict[str, str] | None = None,
        currency: str = "NZD",
        tax_code: str = "GST15",
        amount: str = "150.00",
    ) -> dict[str, Any]:
        today = date.today()
        return {
            "org_id": self.org_id,
            "invoice_id": f"inv_demo_{slug}_{self.run}",
            "invoice_number": f"DEMO-{slug.upper()}-{self.run}",
            "version": 1,
            "customer": customer
            or {"id": "cus_42", "name": "Harbour Cafe Ltd", "email": "accounts@harbour.example"},
            "currency": currency,
            "issue_date": today.isoformat(),
            "due_date": (today + timedelta(days=30)).isoformat(),
            "status": "issued",
            "line_amount_type": "exclusive",
            "reference": f"demo {slug}",
            "lines": [
                {
                    "description": f"Consulting ({slug.replace('_', ' ')})",
                    "quantity": "1",
                    "unit_price": amount,
                    "tax_code": tax_code,
                    "revenue_category": "consulting",
                }
            ],
        }

    def publish(self, invoice: dict[str, Any]) -> None:
        self.call("POST", f"{self.invoice_events_url}/v1/invoices", 202, json=invoice)

    def sync(self, invoice_id: str) -> None:
        url = f"{self.invoice_events_url}/v1/invoices/{self.org_id}/{invoice_id}/sync"
        self.call("POST", url, 202, json={"requested_by": "make demo"})

    def status(self, invoice_id: str) -> dict[str, Any] | None:
        url = f"{self.sync_log_url}/v1/invoices/{self.org_id}/{invoice_id}"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        response = httpx.get(url, headers=headers, timeout=15)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DemoError(f"GET {url}: HTTP {response.status_code} {response.text[:300]}")
        detail: dict[str, Any] = response.json()
        return detail

    def wait_until(
        self, what: str, check: Callable[[], tuple[bool, Any, str]], timeout_s: float | None = None
    ) -> Any:
        """Poll ``check`` (done, value, what it saw) until done or the timeout."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        seen = "nothing yet"
        while True:
            done, value, seen = check()
            if done:
                return value
            if time.monotonic() > deadline:
                raise DemoError(
                    f"timed out after {timeout_s or self.timeout_s:.0f}s waiting for {what}; "
                    f"last seen: {seen}. Are all services of `make run` up (its logs say why)?"
                )
            time.sleep(self.poll_s)

    def wait_for(
        self,
        invoice: dict[str, Any],
        status: str,
        error_code: str | None = None,
        extra: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> dict[str, Any]:
        """The sync log's view of the invoice once it is ``status`` (with ``error_code``)."""
        invoice_id = invoice["invoice_id"]

        def check() -> tuple[bool, Any, str]:
            detail = self.status(invoice_id)
            if detail is None:
                return False, None, "not in the sync log"
            code = (detail.get("last_error") or {}).get("error_code")
            done = detail["status"] == status and (error_code is None or code == error_code)
            return done and extra(detail), detail, f"status {detail['status']}, error {code}"

        target = status + (f" with {error_code}" if error_code else "")
        value: dict[str, Any] = self.wait_until(f"{invoice_id} to be {target}", check)
        return value

    def row(self, case: str, detail: dict[str, Any], note: str = "") -> Row:
        error = detail.get("last_error") if detail["status"] == "failed" else None
        return Row(
            case=case,
            invoice_id=detail["invoice_id"],
            invoice_number=detail.get("invoice_number") or "",
            status=detail["status"],
            error_code=error["error_code"] if error else None,
            remediation=error["remediation"] if error else None,
            note=note,
        )

    # -- the organisation ------------------------------------------------------------------
    def put_settings(self, **changes: Any) -> None:
        current = self.call("GET", self.connector("/settings"))
        self.call("PUT", self.connector("/settings"), json={**current, **changes})

    def mappings(self) -> dict[str, Any]:
        mappings: dict[str, Any] = self.call("GET", self.connector("/mappings"))
        return mappings

    def set_tax_mapping(self, tax_code: str, tax_type: str | None) -> None:
        mappings = self.mappings()
        tax_rates = dict(mappings.get("tax_rates") or {})
        if tax_type is None:
            tax_rates.pop(tax_code, None)
        else:
            tax_rates[tax_code] = tax_type
        self.call("PUT", self.connector("/mappings"), json={**mappings, "tax_rates": tax_rates})

    def xero_copies(self, invoice_number: str) -> int:
        url = f"{self.sandbox_url}/_sandbox/orgs/{self.tenant()}/invoices"
        body = self.call("GET", url)
        return sum(
            1
            for item in body["Invoices"]
            if str(item.get("InvoiceNumber", "")).lower() == invoice_number.lower()
            and item.get("Status") not in ("DELETED", "VOIDED")
        )

    def connection_status(self) -> str:
        status: str = self.call("GET", self.connector("/connection"))["status"]
        return status

    def reconnect(self) -> None:
        demo_org.connect(self.xero_connector_url, self.api_key, self.org_id, self.tenant())

    @contextmanager
    def restoring(self) -> Iterator[None]:
        """Leave the organisation as `make run` set it up, also when a case fails."""
        try:
            yield
        finally:
            self.put_settings(auto_create_contacts=False, sync_mode="automatic")
            self.set_tax_mapping(demo_org.UNMAPPED_TAX_CODE, None)
            if self.connection_status() != "connected":
                self.reconnect()


# -- the cases ----------------------------------------------------------------------------


def clean_invoice(demo: Demo) -> list[Row]:
    """A clean invoice: existing contact, mapped tax and account, enabled currency."""
    invoice = demo.invoice("clean")
    demo.publish(invoice)
    detail = demo.wait_for(invoice, "synced")
    copies = demo.xero_copies(invoice["invoice_number"])
    return [demo.row("clean invoice", detail, f"{copies} copy in Xero")]


def missing_contact(demo: Demo) -> list[Row]:
    """A new customer while auto-create is off fails; auto-create on and a re-sync fixes it."""
    customer = {
        "id": f"cus_new_{demo.run}",
        "name": f"Tui Brewing Co {demo.run}",
        "email": f"accounts+{demo.run}@tui.example",
    }
    invoice = demo.invoice("contact", customer=customer)
    with demo.restoring():
        demo.put_settings(auto_create_contacts=False)
        demo.publish(invoice)
        failed = demo.wait_for(invoice, "failed", "contact_missing")
        demo.put_settings(auto_create_contacts=True)
        demo.sync(invoice["invoice_id"])
        synced = demo.wait_for(invoice, "synced")
    return [
        demo.row("missing contact (auto-create off)", failed),
        demo.row("… auto-create on, re-synced", synced, "contact created in Xero"),
    ]


def currency_not_enabled(demo: Demo) -> list[Row]:
    """An EUR invoice: the demo organisation has NZD and AUD only."""
    invoice = demo.invoice("eur", currency="EUR")
    demo.publish(invoice)
    failed = demo.wait_for(invoice, "failed", "currency_not_enabled")
    return [demo.row("currency not enabled (EUR)", failed)]


def tax_rate_unmapped(demo: Demo) -> list[Row]:
    """``EXEMPT`` has no mapping: fails; map it, then re-sync every such failure by filter."""
    code = demo_org.UNMAPPED_TAX_CODE
    invoice = demo.invoice("exempt", tax_code=code)
    with demo.restoring():
        demo.set_tax_mapping(code, None)
        demo.publish(invoice)
        failed = demo.wait_for(invoice, "failed", "tax_rate_unmapped")
        demo.set_tax_mapping(code, "EXEMPTOUTPUT")
        accepted = demo.call(
            "POST",
            f"{demo.invoice_events_url}/v1/resync",
            202,
            json={
                "org_id": demo.org_id,
                "filter": {"status": "failed", "error_code": "tax_rate_unmapped"},
                "requested_by": "make demo",
            },
        )
        batch_id, count = accepted["batch_id"], accepted["count"]
        if count < 1:
            raise DemoError(f"the resync by filter selected no invoice (batch {batch_id})")
        report = wait_for_batch(demo, batch_id, count)
        synced = demo.wait_for(invoice, "synced")
    note = f"batch {batch_id[:8]}…: {report['synced']}/{report['total']} synced"
    return [
        demo.row(f"tax rate unmapped ({code})", failed),
        demo.row("… mapped, re-synced by filter", synced, note),
    ]


def wait_for_batch(demo: Demo, batch_id: str, count: int) -> dict[str, Any]:
    url = f"{demo.sync_log_url}/v1/batches/{batch_id}"
    headers = {"Authorization": f"Bearer {demo.api_key}"}

    def check() -> tuple[bool, Any, str]:
        response = httpx.get(url, headers=headers, timeout=15)
        if response.status_code != 200:
            return False, None, f"HTTP {response.status_code}"
        report = response.json()
        done = report["total"] >= count and report["pending"] == 0
        return done, report, str(report)

    report: dict[str, Any] = demo.wait_until(f"batch {batch_id} to complete", check)
    if report["synced"] != report["total"]:
        raise DemoError(f"batch {batch_id} finished with failures: {report}")
    return report


def manual_and_automatic(demo: Demo) -> list[Row]:
    """Automatic sync on publish and a manual sync at once: one copy in Xero."""
    invoice = demo.invoice("twice")
    demo.publish(invoice)
    demo.sync(invoice["invoice_id"])

    def both_done(detail: dict[str, Any]) -> bool:
        outcomes = [e for e in detail["history"] if e.get("status") == "synced"]
        return len(outcomes) >= 2

    synced = demo.wait_for(invoice, "synced", extra=both_done)
    copies = demo.xero_copies(invoice["invoice_number"])
    if copies != 1:
        raise DemoError(f"{invoice['invoice_number']} is {copies} times in Xero, not once")
    outcomes = [e.get("outcome") for e in synced["history"] if e.get("status") == "synced"]
    note = f"1 copy in Xero ({' + '.join(str(o) for o in outcomes)})"
    return [demo.row("manual + automatic sync", synced, note)]


def expired_connection(demo: Demo) -> list[Row]:
    """Xero refuses the refresh token: invoices wait as ``connection_expired``; Reconnect
    re-syncs them automatically."""
    invoice = demo.invoice("expired")
    with demo.restoring():
        faults = {"expire_access_tokens": True, "revoke_refresh_tokens": True}
        faults_url = f"{demo.sandbox_url}/_sandbox/faults"
        demo.call("PUT", faults_url, json={**faults, "tenant_id": demo.tenant()})
        demo.publish(invoice)
        failed = demo.wait_for(invoice, "failed", "connection_expired")
        demo.wait_until("the connection to be marked expired", lambda: _expired(demo))
        demo.reconnect()
        synced = demo.wait_for(invoice, "synced")
    return [
        demo.row("expired connection", failed),
        demo.row("… reconnected, re-synced automatically", synced, "reconnect batch"),
    ]


def _expired(demo: Demo) -> tuple[bool, Any, str]:
    status = demo.connection_status()
    return status == "expired", status, f"connection {status}"


CASES: list[Callable[[Demo], list[Row]]] = [
    clean_invoice,
    missing_contact,
    currency_not_enabled,
    tax_rate_unmapped,
    manual_and_automatic,
    expired_connection,
]


def run_all(demo: Demo, on_rows: Callable[[list[Row]], None] = lambda rows: None) -> list[Row]:
    rows: list[Row] = []
    for case in CASES:
        done = case(demo)
        on_rows(done)
        rows.extend(done)
    return rows


def stats(demo: Demo) -> dict[str, Any]:
    body: dict[str, Any] = demo.call(
        "GET", f"{demo.sync_log_url}/v1/stats", params={"org_id": demo.org_id}
    )
    return body


# -- the command --------------------------------------------------------------------------


def main(settings: StackSettings | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped or logged: room for the "what to do" column
        console = Console(width=160)
    demo = Demo.from_settings(settings or StackSettings())
    console.print(
        f"Demo run [bold]{demo.run}[/] against {demo.invoice_events_url} "
        f"(organisation {demo.org_id})"
    )
    started = time.monotonic()
    rows: list[Row] = []

    def show(done: list[Row]) -> None:
        for row in done:  # every row is the outcome the case expects, failures included
            outcome = f"{row.status} {row.error_code or ''}".strip()
            console.print(f"  [green]✓[/] {row.case}: {row.invoice_number} → {outcome}")
        rows.extend(done)

    try:
        for case in CASES:
            with console.status(f"{(case.__doc__ or case.__name__).splitlines()[0]}"):
                done = case(demo)
            show(done)
    except DemoError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1

    table = Table(title="Sync log per case", show_lines=True)
    table.add_column("case")
    table.add_column("invoice", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("error code", no_wrap=True)
    table.add_column("what to do", overflow="fold")
    for row in rows:
        colour = "green" if row.status == "synced" else "red"
        table.add_row(
            row.case,
            row.invoice_number,
            f"[{colour}]{row.status}[/]",
            row.error_code or "",
            row.remediation or row.note,
        )
    console.print(table)

    overall = stats(demo)
    totals = Table(title=f"Overall ({demo.org_id})")
    totals.add_column("status")
    totals.add_column("invoices", justify="right")
    for status, count in sorted(overall["by_status"].items()):
        totals.add_row(status, str(count))
    for code, count in sorted(overall["by_error_code"].items()):
        totals.add_row(f"  failed: {code}", str(count))
    console.print(totals)
    console.print(
        f"Done in {time.monotonic() - started:.1f}s. Open {demo.console_url}/orgs/{demo.org_id}"
        "/sync-log to see the same in the console's Sync Log (and fix them there)."
    )
    return 0
