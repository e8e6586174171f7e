"""What the fault tests drive: the stack as ``make run`` starts it, over Kafka and MongoDB
servers of their own (so a test may stop and restart them), with processes it can kill -9,
restart and multiply, organisations connected through the real OAuth flow, bulks of
invoices, and one question asked at the end of every test: is every invoice in Xero exactly
once (or failed with the right code), and is every outcome in the sync log?

    with fault_stack(infra, unique, run_dir, connectors=2) as stack:
        orgs = stack.connect_orgs(["org_a", "org_b"])
        numbers = stack.publish_bulk(orgs, 1000)
        stack.kill("xero-connector")
        stack.wait_settled(orgs, 1000)
        verify(stack, orgs, numbers)
"""

import asyncio
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from local_infra import demo_org, free_port
from local_infra.processes import Managed
from local_infra.servers import KafkaServer, MongoServer
from local_infra.stack import Stack
from service_kit.events import Topics
from sync_schemas import EventType, Invoice, encode, new_event
from tests.support.stack import KEY, stack_settings

AUTH = {"Authorization": f"Bearer {KEY}"}
CONNECTOR = "xero-connector"
SYNC_LOG = "sync-log"
PORT_ENV = {CONNECTOR: "XERO_CONNECTOR_PORT", SYNC_LOG: "SYNC_LOG_PORT"}
# Xero minutes pass 20 times faster for the sandbox and the connector alike, so the pacing
# to 60 calls a minute is kept without making a 2,000-invoice bulk wait on the clock.
TIME_SCALE = 20.0


@dataclass
class Infra:
    """Kafka and the MongoDB-wire server, owned by the fault tests: stopped and started at will."""

    kafka: KafkaServer
    mongo: MongoServer

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        return self.mongo.uri

    def start(self) -> None:
        for server in (self.kafka, self.mongo):
            server.start()
        for server in (self.kafka, self.mongo):
            server.wait_ready()

    def stop(self) -> None:
        for server in (self.kafka, self.mongo):
            server.stop()


@contextmanager
def private_infra(workdir: Path) -> Iterator[Infra]:
    infra = Infra(
        KafkaServer(port=free_port(), data_dir=workdir / "kafka"),
        MongoServer(port=free_port(), data_dir=workdir / "mongo"),
    )
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()


@dataclass
class Org:
    org_id: str
    tenant_id: str


@dataclass
class FaultStack(Stack):
    """The ``make run`` stack plus what a fault test needs: extra environment per process,
    more connector instances, kill -9 and restart."""

    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def _sandbox_env(self) -> dict[str, str]:
        return super()._sandbox_env() | self.extra_env.get("xero-sandbox", {})

    def _service_envs(self) -> dict[str, dict[str, str]]:
        envs = super()._service_envs()
        return {name: env | self.extra_env.get(name, {}) for name, env in envs.items()}

    # -- processes -----------------------------------------------------------------------
    def process(self, name: str) -> Managed:
        return next(p for p in self.processes if p.name == name)

    def add_connector(self) -> str:
        """One more connector instance in the same consumer group; returns its name."""
        return self.add_instance(CONNECTOR)

    def add_instance(self, service: str) -> str:
        """One more instance of ``service`` (its first one's command and environment, in the
        same consumer group, on a port of its own); returns its name (``service-2``, ...)."""
        first = self.process(service)
        name = f"{service}-{sum(p.name.startswith(service) for p in self.processes) + 1}"
        port_env = PORT_ENV[service]
        self._spawn(name, first.command[-1], first.env | {port_env: str(free_port())})
        self._wait_ready(name, self.ready_url(name))
        return name

    def ready_url(self, name: str) -> str:
        service = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
        if service in PORT_ENV and name != service:  # every extra instance has its own port
            return f"http://127.0.0.1:{self.process(name).env[PORT_ENV[service]]}/readyz"
        return f"{self.urls[name]}/readyz"

    def metric(self, name: str, metric: str, **labels: str) -> float:
        """The sum of a Prometheus counter's samples with these labels, on one process."""
        url = self.ready_url(name).removesuffix("/readyz") + "/metrics"
        total = 0.0
        for line in httpx.get(url, timeout=10).text.splitlines():
            if not line.startswith(metric + "{"):
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its sockets, leases and in-flight work but does
        nothing, not even heartbeats, until ``resume``: a zombie in the making."""
        process = self.process(name)
        assert process.proc is not None and process.exit_code() is None, f"{name} is not running"
        os.killpg(process.proc.pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        process = self.process(name)
        assert process.proc is not None, f"{name} never started"
        os.killpg(process.proc.pid, signal.SIGCONT)

    def rolling_restart(self, name: str) -> None:
        """SIGTERM (a graceful stop, as an orchestrator's rolling update does), then start
        it again and wait until it is ready."""
        process = self.process(name)
        process.stop()
        process.start()
        self._wait_ready(name, self.ready_url(name))

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        process = self.process(name)
        assert process.proc is not None and process.exit_code() is None, f"{name} is not running"
        os.killpg(process.proc.pid, signal.SIGKILL)
        process.proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        process = self.process(name)
        assert process.exit_code() is not None, f"{name} is still running"
        process.start()
        self._wait_ready(name, self.ready_url(name))

    def unexpected_deaths(self, killed: Collection[str] = ()) -> list[str]:
        return [
            f"{p.name} exited {p.exit_code()}:\n" + "\n".join(p.tail)
            for p in self.processes
            if p.exit_code() is not None and p.name not in killed
        ]

    # -- organisations -------------------------------------------------------------------
    def connect_orgs(self, org_ids: list[str], **settings: Any) -> list[Org]:
        orgs = []
        connector = self.settings.xero_connector_url
        for org_id in org_ids:
            tenant = demo_org.create_tenant(self.settings.sandbox_url)
            demo_org.connect(connector, KEY, org_id, tenant)
            demo_org.configure(connector, KEY, org_id)
            if settings:
                self.put_settings(org_id, **settings)
            orgs.append(Org(org_id, tenant))
        return orgs

    def put_settings(self, org_id: str, **changes: Any) -> None:
        url = f"{self.settings.xero_connector_url}/v1/orgs/{org_id}/settings"
        current = expect(httpx.get(url, headers=AUTH, timeout=15), 200)
        expect(httpx.put(url, headers=AUTH, json=current | changes, timeout=15), 200)

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.settings.sandbox_url}{path}", timeout=30, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    # -- invoices ------------------------------------------------------------------------
    def publish_bulk(
        self, orgs: list[Org], per_org: int, customers: int = 20, first: int = 0
    ) -> list[str]:
        """``per_org`` new invoices (numbered from ``first``) for each organisation through
        the batch ingest API, in batches of 500; returns their invoice numbers."""
        numbers = []
        for org in orgs:
            invoices = [
                bulk_invoice(org.org_id, n, customers) for n in range(first, first + per_org)
            ]
            self.ingest(invoices)
            numbers += [i["invoice_number"] for i in invoices]
        return numbers

    def publish_versions(
        self, orgs: list[Org], ns: Collection[int], version: int, customers: int = 20
    ) -> dict[str, int]:
        """Version ``version`` of invoices ``ns`` of each organisation (a changed line);
        returns {invoice number: version} to merge into what ``verify`` expects."""
        invoices = [
            bulk_invoice(org.org_id, n, customers, version=version) for org in orgs for n in ns
        ]
        self.ingest(invoices)
        return {i["invoice_number"]: version for i in invoices}

    def ingest(self, invoices: list[dict[str, Any]]) -> None:
        url = f"{self.settings.invoice_events_url}/v1/invoices/batch"
        for start in range(0, len(invoices), 500):
            chunk = invoices[start : start + 500]
            body = expect(httpx.post(url, headers=AUTH, json={"invoices": chunk}, timeout=120), 202)
            assert body["accepted"] == len(chunk), body

    def produce(self, invoices: list[dict[str, Any]], *, ce_time: datetime | None = None) -> None:
        """Publish ``invoice.created.v1`` straight to Kafka, as an upstream producer may:
        with ``ce_time`` as given (its own clock), or with no ``ce_time`` at all when
        it is None (the attribute is optional in CloudEvents)."""
        topic = Topics.with_prefix(self.settings.topic_prefix).invoice_events

        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.kafka, acks="all")
            await producer.start()
            try:
                for invoice in invoices:
                    event = new_event(
                        EventType.INVOICE_CREATED,
                        Invoice.model_validate(invoice),
                        source="/voltasis",
                        time=ce_time or datetime.now(UTC),
                    )
                    record = encode(event)
                    headers = [
                        (k, v) for k, v in record.headers if ce_time is not None or k != "ce_time"
                    ]
                    await producer.send_and_wait(
                        topic, record.value, key=record.key, headers=headers
                    )
            finally:
                await producer.stop()

        asyncio.run(send())

    def stats(self, org_id: str) -> dict[str, int]:
        url = f"{self.settings.sync_log_url}/v1/stats"
        by_status: dict[str, int] = expect(
            httpx.get(url, headers=AUTH, params={"org_id": org_id}, timeout=30), 200
        )["by_status"]
        return by_status

    def settled(self, orgs: list[Org], per_org: int, synced: bool) -> tuple[int, int]:
        """(invoices done, invoices expected) over the organisations: done is synced, or
        with ``synced=False`` synced or failed."""
        done = 0
        for org in orgs:
            by_status = self.stats(org.org_id)
            done += by_status.get("synced", 0) + (0 if synced else by_status.get("failed", 0))
        return done, per_org * len(orgs)

    def wait_settled(
        self,
        orgs: list[Org],
        per_org: int,
        timeout_s: float = 240,
        killed: Collection[str] = (),
        synced: bool = True,
    ) -> float:
        """Wait until every invoice is synced in the sync log (with ``synced=False``: has an
        outcome, synced or failed); returns when, in monotonic seconds. An invoice that failed
        as ``xero_unavailable`` is not done yet: the connector retries it by itself. Fails
        with the processes' last lines when they do not settle."""
        deadline = time.monotonic() + timeout_s
        seen: Any = None
        while time.monotonic() < deadline:
            deaths = self.unexpected_deaths(killed)
            assert not deaths, "\n\n".join(deaths)
            try:
                done, total = self.settled(orgs, per_org, synced)
                seen = (done, total)
                if done >= total:
                    return time.monotonic()
            except (httpx.TransportError, AssertionError) as exc:
                seen = repr(exc)
            time.sleep(0.5)
        tails = "\n\n".join(f"{p.name}:\n" + "\n".join(list(p.tail)[-15:]) for p in self.processes)
        raise AssertionError(
            f"not settled in {timeout_s:.0f}s: {seen}\n{self.not_done(orgs)}\n\n{tails}"
        )

    def not_done(self, orgs: list[Org]) -> str:
        """What the sync log and Xero say of the invoices that are not synced, to tell a lost
        result from a lost write when a test fails."""
        lines = []
        for org in orgs:
            try:
                rows = [r for r in self.sync_log_rows(org) if r["status"] != "synced"]
                in_xero = {i["InvoiceNumber"] for i in self.xero_invoices(org)}
            except (httpx.TransportError, AssertionError) as exc:
                lines.append(f"{org.org_id}: {exc!r}")
                continue
            kinds = Counter(
                (r["status"], error_code(r), r["invoice_number"] in in_xero) for r in rows
            )
            lines.append(f"{org.org_id}: (status, error, in Xero) -> {dict(kinds)}")
            lines += [f"  e.g. {r}" for r in rows[:2]]
        return "\n".join(lines)

    def wait_progress(self, orgs: list[Org], at_least: int, timeout_s: float = 120) -> None:
        """Wait until at least ``at_least`` invoices of the organisations are in Xero."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            count = sum(len(self.xero_invoices(org)) for org in orgs)
            if count >= at_least:
                return
            time.sleep(0.2)
        raise AssertionError(f"only {count} invoices reached Xero in {timeout_s:.0f}s")

    def wait_versions(
        self,
        orgs: list[Org],
        numbers: Collection[str],
        versions: dict[str, int],
        timeout_s: float = 240,
    ) -> float:
        """Wait until the sync log shows every invoice of ``numbers`` synced at its version in
        ``versions`` (1 when absent); returns when."""
        deadline = time.monotonic() + timeout_s
        behind: list[Any] = []
        while time.monotonic() < deadline:
            deaths = self.unexpected_deaths()
            assert not deaths, "\n\n".join(deaths)
            rows = {r["invoice_number"]: r for org in orgs for r in self.sync_log_rows(org)}
            behind = [
                (n, rows[n]["status"], rows[n]["version"]) if n in rows else (n, "absent")
                for n in numbers
                if n not in rows
                or rows[n]["status"] != "synced"
                or rows[n]["version"] != versions.get(n, 1)
            ]
            if not behind:
                return time.monotonic()
            time.sleep(1)
        raise AssertionError(
            f"{len(behind)} invoices not synced at their newest version: {behind[:5]}"
        )

    def xero_invoices(self, org: Org) -> list[dict[str, Any]]:
        body = self.sandbox("GET", f"/_sandbox/orgs/{org.tenant_id}/invoices")
        return [i for i in body["Invoices"] if i.get("Status") not in ("DELETED", "VOIDED")]

    def sync_log_rows(self, org: Org) -> list[dict[str, Any]]:
        """Every invoice of the organisation by its current status, through the paged API."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"org_id": org.org_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            url = f"{self.settings.sync_log_url}/v1/invoices"
            page = expect(httpx.get(url, headers=AUTH, params=params, timeout=60), 200)
            rows += page["items"]
            if not (cursor := page.get("next_cursor")):
                return rows


@dataclass
class Verdict:
    """What ended up where, for the closing table."""

    invoices: int
    synced: int
    lost: int
    duplicates: int
    stale: int = 0


def verify(
    stack: FaultStack,
    orgs: list[Org],
    numbers: list[str],
    versions: dict[str, int] | None = None,
) -> Verdict:
    """Every invoice is in Xero exactly once with its newest version's content, nothing else
    is, and the sync log shows it synced at that version with the InvoiceID Xero holds.
    ``versions``: {invoice number: newest version} where it is not 1. (Tests whose fault
    fails invoices on purpose check those outcomes themselves, then let them be re-synced
    before calling this.)"""
    versions = versions or {}
    expected = Counter(numbers)
    in_xero: Counter[str] = Counter()
    held: dict[str, dict[str, Any]] = {}
    rows: dict[str, dict[str, Any]] = {}
    for org in orgs:
        for item in stack.xero_invoices(org):
            in_xero[item["InvoiceNumber"]] += 1
            held[item["InvoiceNumber"]] = item
        rows |= {row["invoice_number"]: row for row in stack.sync_log_rows(org)}
    duplicates = sum(count - 1 for count in in_xero.values() if count > 1)
    strangers = set(in_xero) - set(expected)
    lost, stale = [], []
    for number in expected:
        row, version = rows.get(number), versions.get(number, 1)
        xero = held.get(number)
        if row is None:
            lost.append(number)
        elif xero is None:
            stale.append((number, "not in Xero", row))
        elif row["status"] != "synced":
            stale.append((number, "not synced", row))
        elif row["version"] != version:
            stale.append((number, f"sync log at version {row['version']}, not {version}", row))
        elif row.get("xero_invoice_id") != xero["InvoiceID"]:
            stale.append((number, f"sync log names {row.get('xero_invoice_id')}", xero))
        elif line_descriptions(xero) != [line_description(number, version)]:
            stale.append((number, f"Xero holds other content than version {version}", xero))
    assert not strangers, f"invoices in Xero nobody sent: {sorted(strangers)[:5]}"
    assert duplicates == 0, f"{duplicates} duplicates: " + str(
        [n for n, c in in_xero.items() if c > 1][:10]
    )
    assert not lost, f"{len(lost)} invoices never reached the sync log: {lost[:10]}"
    assert not stale, f"{len(stale)} stale or wrong, e.g. {stale[:3]}"
    synced = sum(1 for n in expected if rows[n]["status"] == "synced")
    return Verdict(len(expected), synced, len(lost), duplicates, len(stale))


def line_descriptions(xero_invoice: dict[str, Any]) -> list[str]:
    return [line.get("Description", "") for line in xero_invoice.get("LineItems", [])]


def line_description(number: str, version: int) -> str:
    """What the one line of a bulk invoice says: its number and version, so what Xero holds
    tells which version was written last."""
    return f"Consulting for {number}, version {version}"


def error_code(row: dict[str, Any]) -> str:
    code: str = (row.get("last_error") or {}).get("error_code") or ""
    return code


def bulk_invoice(org_id: str, n: int, customers: int, version: int = 1) -> dict[str, Any]:
    today = date.today()
    customer = n % customers
    number = f"{org_id.upper()}-{n:05d}"
    return {
        "org_id": org_id,
        "invoice_id": f"inv_{org_id}_{n:05d}",
        "invoice_number": number,
        "version": version,
        "customer": {"id": f"cus_{org_id}_{customer}", "name": f"Customer {customer} of {org_id}"},
        "currency": "NZD",
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "status": "issued",
        "line_amount_type": "exclusive",
        "lines": [
            {
                "description": line_description(number, version),
                "quantity": "2",
                "unit_price": f"{100 + n % 50}.00",
                "tax_code": "GST15",
                "revenue_category": "consulting",
            }
        ],
    }


def orgs_on_every_partition(prefix: str, partitions: int) -> list[str]:
    """Organisation ids whose events land on partitions 0..n-1 (events are keyed by org_id),
    so every connector instance has work whatever the assignment."""
    partitioner = DefaultPartitioner()
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < partitions:
        org_id = f"{prefix}_{n}"
        partition = partitioner(org_id.encode(), list(range(partitions)), list(range(partitions)))
        chosen.setdefault(partition, org_id)
        n += 1
    return [chosen[p] for p in range(partitions)]


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: "
        f"{response.status_code} {response.text[:500]}"
    )
    return response.json() if response.content else None


@contextmanager
def fault_stack(
    infra: Infra,
    unique: str,
    run_dir: Path,
    *,
    connectors: int = 1,
    extra_env: dict[str, dict[str, str]] | None = None,
) -> Iterator[FaultStack]:
    settings = stack_settings(infra.bootstrap, infra.mongodb_uri, unique, run_dir)
    env = {
        CONNECTOR: {
            "XERO_CONNECTOR_XERO_TIME_SCALE": str(TIME_SCALE),
            # An invoice that failed as xero_unavailable is retried after 1, 2, 4 s, not
            # minutes: a Xero minute is 3 s here.
            "XERO_CONNECTOR_UNAVAILABLE_RETRY_SECONDS": "1",
            "XERO_CONNECTOR_RETRY_POLL_SECONDS": "0.5",
            # A killed connector's organisations are taken over when its writer lease ends:
            # 20 s here (time runs fast), with calls bounded to fit inside it.
            "XERO_CONNECTOR_WRITER_LEASE_SECONDS": "20",
            "XERO_CONNECTOR_HTTP_POOL_TIMEOUT_SECONDS": "3",
            "XERO_CONNECTOR_HTTP_CONNECT_TIMEOUT_SECONDS": "2",
            "XERO_CONNECTOR_HTTP_WRITE_TIMEOUT_SECONDS": "3",
            "XERO_CONNECTOR_HTTP_READ_TIMEOUT_SECONDS": "8",
        },
    }
    for name, values in (extra_env or {}).items():
        env[name] = env.get(name, {}) | values
    # Every process's output goes to run_dir/stack.log, to read after a failure.
    log = (run_dir / "stack.log").open("a", buffering=1)
    lock = threading.Lock()

    def sink(name: str, line: str) -> None:
        with lock:
            log.write(f"{time.monotonic():.2f} {name:<17}| {line}\n")

    stack = FaultStack(settings, sink, extra_env=env)
    try:
        stack.start()
        stack.sandbox("PUT", "/_sandbox/limits", json={"time_scale": TIME_SCALE})
        for _ in range(connectors - 1):
            stack.add_connector()
        yield stack
    finally:
        stack.stop()
        log.close()
