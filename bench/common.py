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
