"""The fault tests run over Kafka and MongoDB-wire servers of their own, which they stop and
restart; each test starts its own stack over them. Every test records what it tried and what
it found (``report``); the table is printed at the end of the run and kept in
``.cache/reliability/faults.json``."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import Infra, Verdict, private_infra

ROWS: list[dict[str, Any]] = []
REPORT = Path(__file__).resolve().parents[3] / ".cache" / "reliability" / "faults.json"


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with private_infra(tmp_path_factory.mktemp("fault-infra")) as servers:
        yield servers


@pytest.fixture
def report() -> Any:
    """``report("what failed", verdict, recover_s=..., settled_s=...)``: one row of the table."""

    def add(fault: str, verdict: Verdict, **times: float) -> None:
        row = {"fault": fault, "tried": verdict.invoices}
        counts = {"lost": verdict.lost, "duplicates": verdict.duplicates, "stale": verdict.stale}
        ROWS.append(row | counts | times)

    return add


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(ROWS, indent=2))
    write = terminalreporter.write_line
    write("")
    write(
        "fault                                        tried  lost  dup stale  recover s  settled s"
    )
    for row in ROWS:
        write(
            f"{row['fault'][:44]:<44} {row['tried']:>5} {row['lost']:>5} {row['duplicates']:>4} "
            f"{row['stale']:>5} "
            f"{row.get('recover_s', 0):>10.1f} {row.get('settled_s', 0):>10.1f}"
        )
    write(f"(kept in {REPORT})")
