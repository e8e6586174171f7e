"""How many cores a goal of issue 18 needs, at the CPU cost a run measured: what would reach
a row short of its goal, in the run's own figures.

    cores = cores_for_rate(cpu, invoices, goal_per_s)      # a throughput goal
    cores = cores_for_seconds(cpu, goal_seconds)           # a drain that must end in time

``cpu`` is the CPU seconds each process of the machine spent on the measured work (a
benchmark's ``cpu_seconds``). The question is what showing the goal on one machine like this
one would take, so every process of the run counts, Xero's stand-in included, except the load
generator (``bench-harness``), which makes the figure slightly optimistic.

The projection is linear, at this run's cost on this host (a slower host costs more CPU per
invoice). It is optimistic in that it lets the work spread over any number of cores: each
Python service runs on one core at a time, and FerretDB's SQLite storage takes one writer at
a time. It is pessimistic in that work which grows with wall time rather than with invoices
(polling, heartbeats) is scaled as if it were per invoice. A figure well above the machine's
cores (``os.cpu_count()``) is a goal the machine cannot show met, whatever the code waits on.
"""

from collections.abc import Iterable, Mapping
from typing import Any

HARNESS = "bench-harness"
CONNECTOR = "xero-connector"
STORE = "ferretdb"


def work_seconds(cpu: Mapping[str, float], roles: Iterable[str] | None = None) -> float:
    """CPU seconds of the deployment's processes (or only ``roles``), the harness left out."""
    wanted = set(cpu) if roles is None else set(roles)
    return sum(seconds for role, seconds in cpu.items() if role in wanted and role != HARNESS)


def cores_for_rate(
    cpu: Mapping[str, float], invoices: int, goal_per_s: float, roles: Iterable[str] | None = None
) -> float:
    """Cores that ``goal_per_s`` invoices a second need, when ``invoices`` cost ``cpu``."""
    if invoices <= 0:
        raise ValueError("no invoices: no cost per invoice")
    return work_seconds(cpu, roles) / invoices * goal_per_s


def cores_for_seconds(
    cpu: Mapping[str, float], goal_seconds: float, roles: Iterable[str] | None = None
) -> float:
    """Cores that doing the work of ``cpu`` within ``goal_seconds`` needs."""
    if goal_seconds <= 0:
        raise ValueError("the goal must leave some time")
    return work_seconds(cpu, roles) / goal_seconds


def without(cpu: Mapping[str, float], *roles: str) -> list[str]:
    """The roles of ``cpu`` other than ``roles``."""
    return [role for role in cpu if role not in roles]


def drain_needs(run: Mapping[str, Any], goal_ratio: float) -> dict[str, float] | None:
    """For a drain result (``bench.connector_calls.bulk_run``): the cores its goal (ending
    within ``goal_ratio`` times the bound Xero's limit sets) needs: every process of the run,
    the connector alone, and the others (the store, the broker, Xero's stand-in) alone."""
    cpu = run.get("cpu_seconds")
    bound = run.get("lower_bound_seconds")
    if not cpu or not bound:
        return None
    goal = goal_ratio * float(bound)
    return {
        "goal_seconds": round(goal, 2),
        "cores": round(cores_for_seconds(cpu, goal), 1),
        "cores_connector": round(cores_for_seconds(cpu, goal, [CONNECTOR]), 1),
        "cores_others": round(cores_for_seconds(cpu, goal, without(cpu, CONNECTOR)), 1),
    }


def pipeline_needs(run: Mapping[str, Any], goals_per_s: Mapping[str, float]) -> dict[str, Any]:
    """For a pipeline throughput run (``bench.pipeline.throughput``): the CPU milliseconds an
    invoice cost each process, and the cores each of ``goals_per_s`` needs: every process of
    the run, and the store (FerretDB, the busiest) alone."""
    cpu = run.get("cpu_seconds") or {}
    invoices = int(run.get("invoices") or 0)
    if not cpu or invoices <= 0:
        return {}
    return {
        "cpu_ms_per_invoice": {
            role: round(seconds / invoices * 1000, 3)
            for role, seconds in sorted(cpu.items())
            if role != HARNESS
        },
        "goals": {
            name: {
                "per_s": round(rate, 1),
                "cores": round(cores_for_rate(cpu, invoices, rate), 1),
                "cores_store": round(cores_for_rate(cpu, invoices, rate, [STORE]), 1),
            }
            for name, rate in goals_per_s.items()
        },
    }
