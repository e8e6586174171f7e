"""CPython's cyclic garbage collector, set for services that allocate much and keep little.

    tune_collector()        # once, when the app is built, before it serves (runtime.serve)

Reference counting frees almost everything a service allocates; the cyclic collector only
finds what refers to itself. With CPython's default thresholds (700, 10, 10) it ran often
and long in the connector: a batch keeps its invoices, their Xero payloads and Xero's
answers alive for the whole batch, so they outlive the young collections, reach the oldest
generation in numbers, and set off full collections that walk every object in the process,
the 107,000 left by the imports included. In the single-organisation drain of 10,000
invoices that was about 640 young and 5 full collections: 0.55-0.6 s of the connector's
3.4-3.8 s of CPU, each full one a pause of about 90 ms for every task of the event loop.

So the objects of the start-up are frozen (never walked again; they live as long as the
process anyway) and a collection waits for ``THRESHOLDS``: 10,000 allocations more than
deallocations for the youngest generation, then 20 of each younger collection for the next.
The same drain then ran 23 collections in 0.08-0.15 s (docs/benchmarks.md). Cycles wait
longer to be freed, so memory is watched with the pauses: ``gc_pause_seconds`` here, and the
peak RSS that ``make bench`` reports.
"""

import gc
import time
from typing import Any

from prometheus_client import Histogram

THRESHOLDS = (10_000, 20, 20)

GC_PAUSE = Histogram(
    "gc_pause_seconds",
    "Time the process stood still for a cyclic garbage collection, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


class _Pauses:
    """A ``gc.callbacks`` entry that times each collection into ``GC_PAUSE``."""

    def __init__(self) -> None:
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        GC_PAUSE.labels(str(info["generation"])).observe(time.perf_counter() - self._started)


def tune_collector() -> None:
    """Freeze what exists now, raise the thresholds, and time every collection from now on.
    Calling it again changes nothing more."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if not any(isinstance(callback, _Pauses) for callback in gc.callbacks):
        gc.callbacks.append(_Pauses())
