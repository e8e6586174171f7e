"""Fetch and build, once: Kafka jars through Maven, the FerretDB wrapper through Go.

Each product sits next to a stamp holding the hash of its recipe, so a second run is a no-op
and a changed recipe rebuilds.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from local_infra.paths import FERRETDB_RECIPE, KAFKA_RECIPE, cache_dir


class ProvisionError(RuntimeError):
    """A tool is missing or a fetch/build failed; the message says which and how to fix it."""


def _recipe_hash(*files: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _up_to_date(stamp: Path, wanted: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == wanted


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ProvisionError(f"{tool} is not on PATH: {hint}")
    return path


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise ProvisionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{tail}")


def kafka_lib_dir() -> Path:
    """The broker's classpath directory, fetched from Maven Central on first use."""
    target = cache_dir() / "kafka"
    lib = target / "lib"
    pom = KAFKA_RECIPE / "pom.xml"
    wanted = _recipe_hash(pom)
    stamp = target / "stamp"
    if _up_to_date(stamp, wanted) and any(lib.glob("kafka_2.13-*.jar")):
        return lib
    mvn = _require("mvn", "install Maven (apt-get install maven) and Java 17+")
    _require("java", "install Java 17+ (apt-get install openjdk-17-jre-headless)")
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    _run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        cwd=KAFKA_RECIPE,
    )
    stamp.write_text(wanted)
    return lib


def real_mongod() -> str | None:
    """A ``mongod`` on PATH, which is preferred to FerretDB (unless XERO_SYNC_FORCE_FERRETDB=1)."""
    if os.environ.get("XERO_SYNC_FORCE_FERRETDB") == "1":
        return None
    return shutil.which("mongod")


def mongo_command() -> list[str]:
    """The MongoDB-wire server to run: a real ``mongod`` if present, else FerretDB."""
    return [real_mongod() or str(ferretdb_binary())]


def ferretdb_binary() -> Path:
    """The FerretDB wrapper binary, built from the Go module proxy on first use."""
    target = cache_dir() / "ferretdb"
    binary = target / "ferretdb-local"
    sources = [FERRETDB_RECIPE / "go.mod", FERRETDB_RECIPE / "go.sum"]
    sources += sorted(FERRETDB_RECIPE.glob("*.go"))
    wanted = _recipe_hash(*sources)
    stamp = target / "stamp"
    if _up_to_date(stamp, wanted) and binary.is_file():
        return binary
    go = _require("go", "install Go 1.24+ (https://go.dev/doc/install or apt-get install golang)")
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0"}
    _run([go, "build", "-trimpath", "-o", str(binary), "."], cwd=FERRETDB_RECIPE, env=env)
    stamp.write_text(wanted)
    return binary
