"""CPython's cyclic garbage collector, set for services that allocate much and keep little.

    tune_collector()                # once, when the app is built, before it serves
    tune_collector(tuned=False)     # CPython's defaults, the pauses still timed

Reference counting frees almost everything a service allocates; the cyclic collector only
finds what refers to itself. With CPython's default thresholds (700, 10, 10) it ran often
and long in the connector: a batch keeps its invoices, their Xero payloads and Xero's
answers alive for the whole batch, so they outlive the young collections, reach the oldest
generation in numbers, and set off full collections that walk every object in the process,
the 107,000 or so that the imports and the app's construction leave included. In the
single-organisation drain of 10,000 invoices that was about 685 collections and 0.5-0.6 s
of pauses, five of them full ones of about 90 ms, during which no task of the event loop
runs.

So what exists when the app is built is frozen (never walked again: it lives as long as
the process anyway) and a collection waits for ``THRESHOLDS``: 10,000 more allocations than
deallocations for the youngest generation, then 20 of each younger collection for the next.
The same drain then ran 19 collections, 0.09-0.11 s in all (docs/benchmarks.md, "Issue
18, sixth pass"). Cycles wait longer to be freed; the services' peak RSS in the pipeline
benchmark did not move. ``gc_pause_seconds`` (count and sum per generation) shows the
pauses either way, and a service's ``gc_tuned`` setting turns the tuning off.
"""

import gc
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import REGISTRY, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

THRESHOLDS = (10_000, 20, 20)


class GcPauses(Collector):
    """Times every collection (a ``gc.callbacks`` entry) and serves the totals as
    ``gc_pause_seconds``. The callback only adds to plain numbers: a collection can start
    anywhere, also while a scrape holds a metric's lock, so it must take none."""

    def __init__(self) -> None:
        self._started = 0.0
        self._counts = [0, 0, 0]
        self._sums = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self._counts[generation] += 1
        self._sums[generation] += time.perf_counter() - self._started

    def collect(self) -> Iterator[Metric]:
        family = SummaryMetricFamily(
            "gc_pause_seconds",
            "Time the process stood still for cyclic garbage collections, by generation",
            labels=["generation"],
        )
        for generation, (count, seconds) in enumerate(zip(self._counts, self._sums, strict=True)):
            family.add_metric([str(generation)], count, seconds)
        yield family


PAUSES = GcPauses()
REGISTRY.register(PAUSES)


def tune_collector(*, tuned: bool = True) -> None:
    """Time every collection from now on and, when ``tuned``, freeze what exists now and
    raise the thresholds. Calling it again adds no second timer."""
    if PAUSES not in gc.callbacks:
        gc.callbacks.append(PAUSES)
    if tuned:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)
