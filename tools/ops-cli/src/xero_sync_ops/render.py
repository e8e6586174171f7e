"""Rich tables for the API's answers. Pure: data in, renderables out."""

from typing import Any

from rich.table import Table
from rich.text import Text

STATUS_STYLE = {"synced": "green", "failed": "red", "pending": "yellow"}


def status(value: str | None) -> Text:
    return Text(value or "", style=STATUS_STYLE.get(value or "", ""))


def _time(value: str | None) -> str:
    return (value or "").replace("T", " ")[:19]


def entries_table(items: list[dict[str, Any]], title: str = "Sync log") -> Table:
    table = Table(title=title)
    for column in ("occurred", "org", "invoice", "number", "v", "status", "error", "detail"):
        table.add_column(column, overflow="fold")
    for item in items:
        detail = item.get("message") or item.get("outcome") or item.get("reason") or ""
        table.add_row(
            _time(item.get("occurred_at")),
            item.get("org_id") or "",
            item.get("invoice_id") or "",
            item.get("invoice_number") or "",
            str(item.get("version", "")),
            status(item.get("status")),
            item.get("error_code") or "",
            detail,
        )
    return table


def invoices_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Invoices by current status")
    for column in ("updated", "org", "invoice", "number", "v", "status", "error", "xero id"):
        table.add_column(column, overflow="fold")
    for item in items:
        error = (item.get("last_error") or {}).get("error_code", "")
        table.add_row(
            _time(item.get("updated_at")),
            item["org_id"],
            item["invoice_id"],
            item.get("invoice_number") or "",
            str(item.get("version", "")),
            status(item.get("status")),
            error if item.get("status") == "failed" else "",
            item.get("xero_invoice_id") or "",
        )
    return table


def timeline(detail: dict[str, Any]) -> list[Any]:
    head = Text.assemble(
        (f"{detail['org_id']} / {detail['invoice_id']}", "bold"),
        f"  {detail.get('invoice_number') or ''}  v{detail.get('version')}  ",
        status(detail.get("status")),
    )
    parts: list[Any] = [head]
    if detail.get("xero_invoice_id"):
        parts.append(Text(f"Xero InvoiceID: {detail['xero_invoice_id']}"))
    if error := detail.get("last_error"):
        parts.append(Text(f"Last error: {error['error_code']}: {error['message']}", style="red"))
        for message in error.get("xero_messages") or []:
            parts.append(Text(f"  Xero: {message}", style="red"))
        parts.append(Text(f"What to do: {error['remediation']}", style="bold"))
    parts.append(entries_table(detail.get("history") or [], title="Timeline (oldest first)"))
    return parts


def counts_table(title: str, counts: dict[str, int], key: str) -> Table:
    table = Table(title=title)
    table.add_column(key)
    table.add_column("invoices", justify="right")
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(status(name) if key == "status" else Text(name), str(count))
    return table


def batch_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Batch {report.get('batch_id', '')}")
    for column in ("total", "synced", "failed", "pending"):
        table.add_column(column, justify="right")
    table.add_row(*(str(report.get(c, 0)) for c in ("total", "synced", "failed", "pending")))
    return table


def key_values(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in values.items():
        table.add_row(key, "" if value is None else str(value))
    return table


def mappings_tables(mappings: dict[str, Any]) -> list[Table]:
    tables = []
    for section, (left, right) in {
        "tax_rates": ("tax code", "Xero TaxType"),
        "accounts": ("revenue category", "Xero AccountCode"),
        "currencies": ("invoice currency", "Xero CurrencyCode"),
    }.items():
        table = Table(title=section)
        table.add_column(left)
        table.add_column(right)
        for key, value in sorted((mappings.get(section) or {}).items()):
            table.add_row(key, value)
        tables.append(table)
    return tables


def problems_table(problems: list[dict[str, Any]]) -> Table:
    table = Table(title="Mapping problems")
    columns = sorted({k for p in problems for k in p}) or ["problem"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for problem in problems:
        table.add_row(*(str(problem.get(c, "")) for c in columns))
    return table
