"""``xero-sync``: query the sync log, show timelines, stats and batches, resync by filter, and
check a connection and its mappings, over the services' HTTP APIs (defaults: ``make run``).

    xero-sync log --org org_demo --status failed
    xero-sync timeline org_demo inv_1
    xero-sync resync --org org_demo --error-code tax_rate_unmapped
"""

import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xero_sync_ops import render
from xero_sync_ops.client import Endpoints, OpsApi, OpsError

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()
# Tests replace this with an httpx.MockTransport.
transport: httpx.BaseTransport | None = None


class State:
    endpoints = Endpoints()


@app.callback()
def options(
    api_key: Annotated[
        str, typer.Option(envvar=["XERO_SYNC_API_KEY", "DEV_API_KEY"], help="Bearer key")
    ] = "dev-key",
    invoice_events_url: Annotated[
        str, typer.Option(envvar="XERO_SYNC_INVOICE_EVENTS_URL")
    ] = "http://127.0.0.1:8001",
    xero_connector_url: Annotated[
        str, typer.Option(envvar="XERO_SYNC_XERO_CONNECTOR_URL")
    ] = "http://127.0.0.1:8002",
    sync_log_url: Annotated[
        str, typer.Option(envvar="XERO_SYNC_SYNC_LOG_URL")
    ] = "http://127.0.0.1:8003",
) -> None:
    State.endpoints = Endpoints(api_key, invoice_events_url, xero_connector_url, sync_log_url)


def _call(action: Any) -> Any:
    api = OpsApi(State.endpoints, transport)
    try:
        return action(api)
    except OpsError as exc:
        console.print(f"[bold red]✗[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        api.close()


Org = Annotated[str | None, typer.Option("--org", help="org_id")]
Status = Annotated[str | None, typer.Option(help="pending | synced | failed")]
ErrorCode = Annotated[str | None, typer.Option("--error-code")]
Since = Annotated[str | None, typer.Option(help="ISO 8601, inclusive")]
Until = Annotated[str | None, typer.Option(help="ISO 8601, exclusive")]
Limit = Annotated[int, typer.Option(min=1, max=500, help="rows per page")]
Pages = Annotated[int, typer.Option(min=1, help="follow next_cursor this many pages")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of an earlier page")]
Batch = Annotated[str | None, typer.Option(help="batch_id")]


def _filters(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _pages(api: OpsApi, path: str, params: dict[str, Any], pages: int) -> tuple[list[Any], Any]:
    items: list[Any] = []
    cursor = params.pop("cursor", None)
    for _ in range(pages):
        page = api.sync_log.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        if not (cursor := page.get("next_cursor")):
            break
    return items, cursor


@app.command()
def log(
    org: Org = None,
    status: Status = None,
    error_code: ErrorCode = None,
    invoice: Annotated[str | None, typer.Option(help="invoice_id")] = None,
    number: Annotated[str | None, typer.Option(help="invoice_number")] = None,
    batch: Batch = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    pages: Pages = 1,
    cursor: Cursor = None,
) -> None:
    """Sync-log entries, newest first, with the API's filters."""
    params = _filters(
        org_id=org,
        status=status,
        error_code=error_code,
        invoice_id=invoice,
        invoice_number=number,
        batch_id=batch,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    _show("/v1/sync-log", params, pages, render.entries_table)


@app.command()
def invoices(
    org: Org = None,
    status: Status = None,
    error_code: ErrorCode = None,
    batch: Batch = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    pages: Pages = 1,
    cursor: Cursor = None,
) -> None:
    """Invoices by their current status, one row each."""
    params = _filters(
        org_id=org,
        status=status,
        error_code=error_code,
        batch_id=batch,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    _show("/v1/invoices", params, pages, render.invoices_table)


def _show(path: str, params: dict[str, Any], pages: int, table: Callable[[list[Any]], Any]) -> None:
    """Print ``pages`` pages of a sync-log list as a table, and how to get the next ones."""
    items, next_cursor = _call(lambda api: _pages(api, path, params, pages))
    console.print(table(items))
    _more(len(items), next_cursor)


def _more(count: int, next_cursor: str | None) -> None:
    if next_cursor:
        console.print(f"{count} rows; more with: --cursor {next_cursor}")
    else:
        console.print(f"{count} rows")


@app.command()
def timeline(org_id: str, invoice_id: str) -> None:
    """One invoice's current status, last error with what to do, and its history."""
    detail = _call(lambda api: api.sync_log.get(f"/v1/invoices/{org_id}/{invoice_id}"))
    for part in render.timeline(detail):
        console.print(part)


@app.command()
def stats(org: Org = None, since: Since = None) -> None:
    """Invoices by current status and by current error code."""
    body = _call(
        lambda api: api.sync_log.get("/v1/stats", params=_filters(org_id=org, since=since))
    )
    console.print(render.counts_table("By status", body["by_status"], "status"))
    console.print(render.counts_table("By error code", body["by_error_code"], "error code"))


@app.command()
def batch(batch_id: str) -> None:
    """A bulk resync's report: total, synced, failed, pending, by error code."""
    _print_batch(_call(lambda api: api.sync_log.get(f"/v1/batches/{batch_id}")))


@app.command()
def resync(
    org: Annotated[str, typer.Option("--org", help="org_id")],
    error_code: ErrorCode = None,
    since: Since = None,
    until: Until = None,
    invoice: Annotated[
        list[str] | None, typer.Option(help="invoice_id (repeat); instead of the filter")
    ] = None,
    wait: Annotated[bool, typer.Option(help="show progress until the batch completes")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the batch")] = 600.0,
    poll: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """Re-sync failed invoices by filter (or by id) and follow the batch to its end."""
    body: dict[str, Any] = {"org_id": org}
    if invoice:
        body["invoice_ids"] = invoice
    else:
        body["filter"] = _filters(status="failed", error_code=error_code, since=since, until=until)
    started = _call(lambda api: api.invoice_events.post("/v1/resync", json=body))
    batch_id, count = started["batch_id"], started["count"]
    console.print(f"Batch [bold]{batch_id}[/]: {count} invoice(s) requested")
    if not wait or count == 0:
        return
    report = _call(lambda api: _follow(api, batch_id, count, timeout, poll))
    _print_batch(report)
    if report.get("failed"):
        raise typer.Exit(2)


def _print_batch(report: dict[str, Any]) -> None:
    console.print(render.batch_table(report))
    if report.get("by_error_code"):
        console.print(render.counts_table("Failed by error code", report["by_error_code"], "code"))


def _follow(api: OpsApi, batch_id: str, count: int, timeout: float, poll: float) -> Any:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("syncing", total=count)
        while True:
            report = api.sync_log.get(f"/v1/batches/{batch_id}")
            total = max(report["total"], count)
            done = report["synced"] + report["failed"]
            progress.update(
                task,
                total=total,
                completed=done,
                description=f"synced {report['synced']} failed {report['failed']}",
            )
            if done >= total:
                return report
            if time.monotonic() > deadline:
                raise OpsError(
                    f"batch {batch_id} not complete after {timeout:.0f}s "
                    f"({done}/{total}); follow it with: xero-sync batch {batch_id}"
                )
            time.sleep(poll)


@app.command()
def connection(org_id: str) -> None:
    """The organisation's Xero connection (never a token)."""
    body = _call(lambda api: api.xero_connector.get(f"/v1/orgs/{org_id}/connection"))
    console.print(render.key_values(f"Connection of {org_id}", body))
    if body.get("status") != "connected":
        console.print(f"Connect or reconnect: POST /v1/orgs/{org_id}/connection")
        raise typer.Exit(2)


@app.command()
def mappings(org_id: str) -> None:
    """The organisation's tax-rate, account and currency mappings."""
    body = _call(lambda api: api.xero_connector.get(f"/v1/orgs/{org_id}/mappings"))
    for table in render.mappings_tables(body):
        console.print(table)


@app.command()
def check(org_id: str) -> None:
    """Check the connection and the mappings against the live Xero organisation."""
    conn = _call(lambda api: api.xero_connector.get(f"/v1/orgs/{org_id}/connection"))
    console.print(f"connection: {conn.get('status')} {conn.get('tenant_name') or ''}")
    body = _call(lambda api: api.xero_connector.post(f"/v1/orgs/{org_id}/mappings/check"))
    if body["ok"]:
        console.print("[green]✓[/] mappings ok")
        return
    console.print(render.problems_table(body["problems"]))
    raise typer.Exit(2)


def main() -> None:
    app()
