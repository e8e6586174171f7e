"""``local-infra run`` (what ``make run`` calls): the stack in the foreground.

Starts everything (see ``local_infra.stack``), prints the URLs, the dev key and what to try,
streams every process's output under its name, and stops everything it started on Ctrl-C or
SIGTERM. A process that dies is reported loudly with its last lines and the whole stack is
stopped with exit code 1 (no silent restarts: a crash is a bug to see, not to paper over).
"""

import signal
import threading
import time
from types import FrameType

from rich.console import Console
from rich.text import Text

from local_infra.demo_org import DEMO_ORG_ID, UNMAPPED_TAX_CODE
from local_infra.provision import ProvisionError
from local_infra.servers import ServerError
from local_infra.stack import Stack, StackError, running_stack
from local_infra.stack_settings import StackSettings

COLOURS = {
    "invoice-events": "cyan",
    "xero-connector": "magenta",
    "sync-log": "green",
    "xero-sandbox": "yellow",
}

console = Console(stderr=True, highlight=False)
_print_lock = threading.Lock()


def print_line(name: str, line: str) -> None:
    text = Text(f"{name:<15}│ ", style=COLOURS.get(name, "white"))
    text.append(Text.from_ansi(line))
    with _print_lock:
        console.print(text, soft_wrap=True)


def banner(stack: Stack, took_s: float) -> str:
    s, key, org = stack.settings, stack.settings.dev_api_key, DEMO_ORG_ID
    auth = f'-H "Authorization: Bearer {key}"'
    invoice = (
        '{"org_id":"org_demo","invoice_id":"inv_1","invoice_number":"INV-1","version":1,'
        '"customer":{"id":"cus_42","name":"Harbour Cafe Ltd"},"currency":"NZD",'
        '"issue_date":"2026-11-20","due_date":"2026-12-20","status":"issued",'
        '"line_amount_type":"exclusive","lines":[{"description":"Consulting",'
        '"quantity":"10","unit_price":"150.00","tax_code":"GST15",'
        '"revenue_category":"consulting"}]}'
    )
    tenant = stack.connection.get("tenant_name") or stack.tenant_id
    problems = stack.mapping_check.get("problems") or []
    return "\n".join(
        [
            "",
            f"[bold green]✓ ready[/] in {took_s:.1f}s — Ctrl-C stops everything it started",
            "",
            f"  [bold]Console[/]          {s.console_url}   sign in as [bold]admin[/] "
            f"/ [bold]{stack.console_password}[/] (also operator, viewer; same password)",
            f"  invoice-events   {s.invoice_events_url}/docs",
            f"  xero-connector   {s.xero_connector_url}/docs",
            f"  sync-log API     {s.sync_log_url}/docs",
            f"  Xero sandbox     {s.sandbox_url}/docs",
            f"  Kafka            {stack.kafka}",
            f"  MongoDB          {stack.mongodb}",
            "",
            f"  API key (every service): [bold]{key}[/]   (set DEV_API_KEY to change it)",
            f"  Demo organisation [bold]{org}[/] is connected to '{tenant}' "
            f"(tenant {stack.tenant_id}); mapping check: "
            + ("ok" if not problems else f"{len(problems)} problem(s)"),
            f"  Tax code {UNMAPPED_TAX_CODE} is deliberately unmapped; EUR is not enabled.",
            "",
            "Try:",
            f"  curl -s {auth} {s.xero_connector_url}/v1/orgs/{org}/connection",
            f"  curl -s {auth} {s.xero_connector_url}/v1/orgs/{org}/mappings",
            f"  curl -s {auth} -H 'Content-Type: application/json' "
            f"{s.invoice_events_url}/v1/invoices -d '{invoice}'",
            f"  curl -s {auth} '{s.sync_log_url}/v1/sync-log?org_id={org}'",
            f"  curl -s {auth} '{s.sync_log_url}/v1/stats?org_id={org}'",
            f"  uv run xero-sync log --org {org}        (the ops CLI; uv run xero-sync --help)",
            "",
        ]
    )


class _Signals:
    stopping = False


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # Only the first signal interrupts: Ctrl-C reaches us twice (from the terminal and
    # forwarded by `uv run`), and a second interrupt must not cut the clean stop short.
    if _Signals.stopping:
        return
    _Signals.stopping = True
    raise KeyboardInterrupt


def run(settings: StackSettings | None = None) -> int:
    settings = settings or StackSettings()
    # Ctrl-C and SIGTERM (kill, CI) both stop the stack. SIGINT is set explicitly: a shell
    # that starts us in the background leaves it ignored, and Python then never raises.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    try:
        with running_stack(settings, print_line) as stack:
            console.print(banner(stack, time.monotonic() - started), soft_wrap=True)
            while (dead := stack.dead()) is None:
                time.sleep(0.5)
            console.print(
                f"\n[bold white on red] ✗ {dead.name} DIED (exit code {dead.exit_code()}) [/]\n"
                f"[red]last lines of {dead.name}:[/]"
            )
            console.print(Text.from_ansi("\n".join(dead.tail)), soft_wrap=True)
            console.print("[red]Stopping everything; fix the cause and run `make run` again.[/]")
            _Signals.stopping = True
            return 1
    except KeyboardInterrupt:
        console.print("[green]✓[/] stopped everything `make run` started")
        return 0
    except (StackError, ProvisionError, ServerError) as exc:
        console.print(Text.from_ansi(f"✗ {exc}", style="bold red"), soft_wrap=True)
        return 1
    except Exception as exc:  # a demo set-up step failed: say which, after cleanup
        console.print(Text.from_ansi(f"✗ {type(exc).__name__}: {exc}", style="bold red"))
        return 1
