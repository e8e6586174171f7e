"""The garbage collector every service runs with: start-up objects frozen, higher
thresholds, and each collection timed into ``gc_pause_seconds``."""

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY

from service_kit import runtime
from service_kit.collector import THRESHOLDS, tune_collector
from service_kit.settings import ServiceSettings


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone for the tests after it; automatic
    collections wait meanwhile, so only the test's own are counted."""
    thresholds, callbacks, enabled = gc.get_threshold(), list(gc.callbacks), gc.isenabled()
    gc.disable()
    yield
    if enabled:
        gc.enable()
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks


def pauses(generation: str) -> float:
    return REGISTRY.get_sample_value("gc_pause_seconds_count", {"generation": generation}) or 0.0


@pytest.mark.usefixtures("collector")
def test_startup_objects_are_frozen_and_collections_wait_longer_and_are_timed() -> None:
    tune_collector()
    tune_collector()  # a second call adds no second timer

    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # the imports' objects: never walked again
    before = pauses("0"), pauses("2")
    gc.collect(0)
    gc.collect()
    assert (pauses("0"), pauses("2")) == (before[0] + 1, before[1] + 1)
    assert (REGISTRY.get_sample_value("gc_pause_seconds_sum", {"generation": "2"}) or 0) > 0


@pytest.mark.usefixtures("collector")
def test_untuned_the_defaults_stay_and_the_pauses_are_still_timed() -> None:
    gc.unfreeze()
    defaults = gc.get_threshold()
    tune_collector(tuned=False)

    assert gc.get_threshold() == defaults and gc.get_freeze_count() == 0
    before = pauses("1")
    gc.collect(1)
    assert pauses("1") == before + 1


@pytest.mark.usefixtures("collector")
def test_a_service_serves_with_the_collector_tuned(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(app: FastAPI, **options: Any) -> None:
        seen["thresholds"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setattr(runtime, "configure_logging", lambda *_: None)  # the tests' own stays
    gc.unfreeze()
    runtime.serve(FastAPI(), ServiceSettings(port=8001, mongodb_database="any"))
    assert seen["thresholds"] == THRESHOLDS and seen["frozen"] > 0

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    runtime.serve(FastAPI(), ServiceSettings(port=8001, mongodb_database="any", gc_tuned=False))
    assert seen["thresholds"] == (700, 10, 10) and seen["frozen"] == 0
