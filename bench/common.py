"""Shared pieces of the benchmarks: servers, service processes, result files."""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

RESULTS = Path(__file__).parent / "results"
LOGS = RESULTS / "logs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def service_process(
    module: str, env: dict[str, str], port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m module`` until /healthz answers; stop it afterwards."""
    # stderr to a file, not a pipe: a chatty service must never block on a full pipe.
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{module}-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{module} exited: {log_path.read_text()[-4000:]}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> dict[str, Any]:
    """Where and under what load a figure was measured (the machine is shared: say so)."""
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(load1, 2),
        "load_avg_5m": round(load5, 2),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


Measure = Callable[[str, str, argparse.Namespace], dict[str, Any]]


def standalone(
    name: str,
    doc: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    measure: Measure,
) -> None:
    """Run one benchmark on its own: its flags, servers (``local_infra.endpoints``), result file."""
    from local_infra.endpoints import kafka_endpoint, mongodb_endpoint

    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else name)
    add_arguments(parser)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        kafka_endpoint(Path(tmp)) as kafka,
        mongodb_endpoint(Path(tmp)) as mongo,
    ):
        result = measure(kafka, mongo, args)
    print(result)
    print(f"wrote {write_result(name, result)}")


StoreCounts = dict[tuple[str, str, str], tuple[float, float]]


def store_counts(urls: dict[str, list[str]]) -> StoreCounts:
    """Each service's ``mongo_commands_total`` and ``mongo_statements_total`` (from
    ``service_kit.mongo_metrics``), summed over its instances: (service, command, collection)
    to (commands, statements)."""
    counts: dict[tuple[str, str, str], list[float]] = {}
    for service, service_urls in urls.items():
        for family, sample in _samples(service_urls, {"mongo_commands", "mongo_statements"}):
            if not sample.name.endswith("_total"):
                continue
            slot = 0 if family == "mongo_commands" else 1
            key = (service, sample.labels["command"], sample.labels["collection"])
            counts.setdefault(key, [0.0, 0.0])[slot] += sample.value
    return {key: (c, s) for key, (c, s) in counts.items()}


def _samples(urls: list[str], families: set[str]) -> Iterator[tuple[str, Sample]]:
    """The samples of ``families`` that the services at ``urls`` serve at /metrics."""
    for url in urls:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            if family.name in families:
                for sample in family.samples:
                    yield family.name, sample


def gauge(url: str, family: str) -> float:
    """The value of the gauge ``family`` that the service at ``url`` serves (0 without it)."""
    return sum(sample.value for _, sample in _samples([url], {family}))


# Per service: a summary's or histogram's count and sum (seconds), over its instances.
Timings = dict[str, tuple[float, float]]


def gc_pauses(urls: dict[str, list[str]]) -> Timings:
    """Each service's cyclic garbage collections and the seconds they stood still
    (``gc_pause_seconds`` from ``service_kit.collector``), summed over its instances."""
    return timings(urls, "gc_pause_seconds")


def timings(urls: dict[str, list[str]], family: str) -> Timings:
    """Each service's count and sum of the summary or histogram ``family``, summed over its
    instances and labels."""
    totals: dict[str, list[float]] = {}
    for service, service_urls in urls.items():
        sums = totals.setdefault(service, [0.0, 0.0])
        for _, sample in _samples(service_urls, {family}):
            if sample.name.endswith("_count"):
                sums[0] += sample.value
            elif sample.name.endswith("_sum"):
                sums[1] += sample.value
    return {service: (n, seconds) for service, (n, seconds) in totals.items()}


def timings_between(before: Timings, after: Timings) -> dict[str, tuple[int, float]]:
    """Per service, the count and the seconds (rounded to ms) added between two ``timings``."""
    between = {}
    for service, (n, seconds) in after.items():
        n_before, seconds_before = before.get(service, (0.0, 0.0))
        between[service] = (int(n - n_before), round(seconds - seconds_before, 3))
    return between


def gc_work(before: Timings, after: Timings) -> dict[str, dict[str, float]]:
    """Collections and pause seconds per service between two ``gc_pauses``."""
    return {
        service: {"collections": n, "pause_seconds": seconds}
        for service, (n, seconds) in timings_between(before, after).items()
    }


def store_work(before: StoreCounts, after: StoreCounts, invoices: int) -> dict[str, Any]:
    """Commands and statements per invoice between two ``store_counts``: in all, per service,
    and per service, command and collection."""
    rows: dict[str, dict[str, float]] = {}
    services: dict[str, list[float]] = {}
    total = [0.0, 0.0]
    for key, (commands, statements) in sorted(after.items()):
        was = before.get(key, (0.0, 0.0))
        delta = (commands - was[0], statements - was[1])
        if delta == (0.0, 0.0):
            continue
        service, command, collection = key
        rows[f"{service} {command} {collection}"] = {
            "commands": round(delta[0] / invoices, 4),
            "statements": round(delta[1] / invoices, 4),
        }
        sums = services.setdefault(service, [0.0, 0.0])
        for i in (0, 1):
            sums[i] += delta[i]
            total[i] += delta[i]
    return {
        "commands_per_invoice": round(total[0] / invoices, 3),
        "statements_per_invoice": round(total[1] / invoices, 3),
        "by_service": {
            s: {"commands": round(c / invoices, 3), "statements": round(n / invoices, 3)}
            for s, (c, n) in services.items()
        },
        "by_command": rows,
    }
