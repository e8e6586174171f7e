"""Each service as it ships: installed alone from uv.lock exactly as its Dockerfile installs it
(its own ``--no-dev --no-editable`` closure, in an environment of its own, no source tree on
the path), started with its Dockerfile's command and the settings the compose file gives it,
against the real Kafka and MongoDB-wire server: ``/readyz`` answers and one real request works.

The development environment installs every package at once, which hides an import a package
does not declare (the connector once shipped without ``tenacity``); this test does not.
"""

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from local_infra import free_port
from tests.support.eventually import eventually_sync

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy" / "docker"
KEY = "prod-install-key"
# Every service image in deploy/, in the order they must start (each may call the previous).
SERVICES = ["xero-sandbox", "sync-log", "invoice-events", "xero-connector", "console"]
# compose.yml's dev console user (its hash is in CONSOLE_USERS there).
CONSOLE_USER, CONSOLE_PASSWORD = "admin", "dev-password"


@dataclass(frozen=True)
class Image:
    service: str
    package: str
    command: list[str]

    @classmethod
    def of(cls, dockerfile: Path) -> "Image":
        text = dockerfile.read_text()
        [package] = re.findall(r"uv sync --frozen --no-dev --no-editable --package (\S+)", text)
        [command] = re.findall(r"^CMD \[(.*)\]$", text, re.MULTILINE)
        return cls(
            dockerfile.name.removesuffix(".Dockerfile"),
            package,
            shlex.split(command.replace(",", " ")),
        )


def images() -> dict[str, Image]:
    return {i.service: i for i in (Image.of(p) for p in sorted(DOCKER.glob("*.Dockerfile")))}


def test_every_service_image_is_covered_and_installs_only_its_own_package() -> None:
    found = images()
    assert sorted(found) == sorted(SERVICES)
    for service, image in found.items():
        assert image.package == service, image
        text = (DOCKER / f"{service}.Dockerfile").read_text()
        # Both install steps are of this one package, never --all-packages or a dev group.
        installs = re.findall(r"uv sync ([^\n]+)", text)
        assert installs and all(f"--package {service}" in i for i in installs), installs
        assert all("--no-dev" in i for i in installs) and "--all-packages" not in text
        assert image.command == [service], image
        # Bytecode compiled at build time, as install() does: a start compiles nothing.
        assert re.search(r"^ENV UV_COMPILE_BYTECODE=1 ", text, re.MULTILINE), service


def install(image: Image) -> Path:
    """``uv sync`` of the package alone into ``.cache/prod-install/<service>``."""
    env_dir = ROOT / ".cache" / "prod-install" / image.service
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(env_dir),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_COMPILE_BYTECODE": "1",  # as the Dockerfiles set it
    }
    env.pop("VIRTUAL_ENV", None)
    # The uv that runs the tests (``uv run`` names itself in $UV), else the base Python's.
    base = getattr(sys, "_base_executable", sys.executable)
    uv = [os.environ["UV"]] if os.environ.get("UV") else [base, "-m", "uv"]
    subprocess.run(
        [*uv, "sync", "--frozen", "--no-dev", "--no-editable", "--quiet",
         "--package", image.package, "--python", base],
        cwd=ROOT, env=env, check=True, timeout=600,
    )  # fmt: skip
    return env_dir


def compose_environment(service: str) -> dict[str, str]:
    """The service's environment in deploy/compose.yml, ``${VAR:-default}`` as its default."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text())
    raw: dict[str, Any] = compose["services"][service].get("environment") or {}
    defaults = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")
    # `$$` is compose's escape for a literal `$` (the console's password hash has some).
    return {k: defaults.sub(r"\1", str(v)).replace("$$", "$") for k, v in raw.items()}


@dataclass
class Running:
    image: Image
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def prefix(service: str) -> str:
    return service.upper().replace("-", "_") + "_"


@pytest.fixture(scope="module")
def shipped(
    kafka_bootstrap: str, mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Running]]:
    """The four services, each from its own production install, wired as compose wires them
    (hosts replaced by the test's servers and free ports)."""
    run_dir = tmp_path_factory.mktemp("shipped")
    ports = {s: free_port() for s in SERVICES}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    topic_prefix = f"prod_{os.getpid()}_"
    started: dict[str, Running] = {}
    try:
        for service in SERVICES:
            image = images()[service]
            env_dir = install(image)
            p = prefix(service)
            env = compose_environment(service) | {
                f"{p}HOST": "127.0.0.1",
                f"{p}PORT": str(ports[service]),
            }
            if service == "console":
                env |= {
                    f"{p}MONGODB_URI": mongodb_uri,
                    f"{p}MONGODB_DATABASE": f"{topic_prefix}console",
                    f"{p}PUBLIC_URL": urls["console"],
                    # Where the Dockerfile puts htmx (npm ci of the same package-lock.json).
                    f"{p}ASSETS_DIR": str(
                        ROOT / "services" / "console" / "node_modules" / "htmx.org" / "dist"
                    ),
                }
                for name in ("invoice-events", "xero-connector", "sync-log"):
                    key = name.upper().replace("-", "_")
                    env |= {f"{p}{key}_URL": urls[name], f"{p}{key}_API_KEY": KEY}
            elif service != "xero-sandbox":
                env |= {
                    f"{p}KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                    f"{p}MONGODB_URI": mongodb_uri,
                    f"{p}MONGODB_DATABASE": f"{topic_prefix}{service.replace('-', '_')}",
                    f"{p}TOPIC_PREFIX": topic_prefix,
                    f"{p}TOPIC_PARTITIONS": "3",
                    f"{p}API_KEYS": KEY,
                }
            if service == "invoice-events":
                env |= {f"{p}SYNC_LOG_URL": urls["sync-log"], f"{p}SYNC_LOG_API_KEY": KEY}
            if service == "xero-connector":
                sandbox = urls["xero-sandbox"]
                env |= {
                    f"{p}XERO_API_URL": sandbox,
                    f"{p}XERO_IDENTITY_URL": sandbox,
                    f"{p}XERO_LOGIN_URL": sandbox,
                    f"{p}CONSOLE_ORIGINS": f"http://127.0.0.1:{ports['console']}",
                }
            log = run_dir / f"{service}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(env_dir / "bin" / image.command[0]), *image.command[1:]],
                    cwd=run_dir,  # no source tree on the path: only what was installed
                    env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(run_dir), **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started[service] = Running(image, urls[service], process, log)
            wait_ready(started[service])
        yield started
    finally:
        for running in started.values():
            running.process.terminate()
        for running in started.values():
            try:
                running.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                running.process.kill()


def wait_ready(running: Running, timeout_s: float = 90) -> None:
    path = "/healthz" if running.image.service == "xero-sandbox" else "/readyz"

    def ready() -> bool:
        if running.process.poll() is not None:  # pytest.fail is not retried
            pytest.fail(
                f"{running.image.service} exited {running.process.returncode} at start-up:\n"
                + running.log.read_text()[-3000:]
            )
        return httpx.get(running.url + path, timeout=2).status_code == 200

    try:
        eventually_sync(
            ready, what=f"{running.image.service} {path}", timeout=timeout_s, interval=0.3
        )
    except AssertionError as error:
        pytest.fail(f"{error}\n" + running.log.read_text()[-3000:])


AUTH = {"Authorization": f"Bearer {KEY}"}
INVOICE = {
    "org_id": "org_prod",
    "invoice_id": "inv_1",
    "invoice_number": "INV-1",
    "version": 1,
    "customer": {"id": "cus_1", "name": "Harbour Cafe Ltd"},
    "currency": "NZD",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "status": "issued",
    "line_amount_type": "exclusive",
    "lines": [{"description": "Consulting", "quantity": "1", "unit_price": "10.00"}],
}


@pytest.mark.parametrize("service", SERVICES)
def test_the_shipped_service_is_ready_and_serves_a_real_request(
    service: str, shipped: dict[str, Running]
) -> None:
    running = shipped[service]
    with httpx.Client(base_url=running.url, timeout=10) as http:
        if service == "xero-sandbox":
            answer = http.post("/_sandbox/orgs", json={"name": "Shipped Ltd"})
            assert answer.status_code == 201, answer.text
            return
        if service == "console":
            # Signed in as compose's dev user; the overview is drawn from the three services.
            login = http.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert token, login.text
            overview = http.post(
                "/login",
                data={"name": CONSOLE_USER, "password": CONSOLE_PASSWORD, "csrf_token": token[1]},
                follow_redirects=True,
            )
            assert overview.status_code == 200, overview.text
            assert "Organisations" in overview.text and "not reachable" not in overview.text
            assert http.get("/vendor/htmx.min.js").status_code == 200
            assert http.get("/readyz").json()["status"] == "ready"
            assert running.process.poll() is None, running.log.read_text()[-2000:]
            return
        assert http.get("/readyz").status_code == 200
        if service == "invoice-events":
            answer = http.post("/v1/invoices", json=INVOICE, headers=AUTH)
            assert answer.status_code == 202, answer.text
        elif service == "xero-connector":
            answer = http.post("/v1/orgs/org_prod/connection", headers=AUTH)
            assert answer.status_code == 200, answer.text
            assert answer.json()["authorize_url"].startswith(shipped["xero-sandbox"].url)
        else:
            answer = http.get("/v1/sync-log", params={"org_id": "org_prod"}, headers=AUTH)
            assert answer.status_code == 200, answer.text
    assert running.process.poll() is None, running.log.read_text()[-2000:]
