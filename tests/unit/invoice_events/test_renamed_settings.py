"""Durations renamed to ``_seconds`` (issue 16): the old environment names still set them."""

from typing import Any

import pytest

from invoice_events.config import Settings

RENAMED = [
    ("sync_log_timeout_seconds", "INVOICE_EVENTS_SYNC_LOG_TIMEOUT_S"),
    ("idempotency_ttl_seconds", "INVOICE_EVENTS_IDEMPOTENCY_TTL_S"),
    ("claim_lease_seconds", "INVOICE_EVENTS_CLAIM_LEASE_S"),
    ("sweep_interval_seconds", "INVOICE_EVENTS_SWEEP_INTERVAL_S"),
    ("mark_interval_seconds", "INVOICE_EVENTS_MARK_INTERVAL_S"),
    ("publish_timeout_seconds", "INVOICE_EVENTS_PUBLISH_TIMEOUT_S"),
    ("consumer_backoff_seconds", "INVOICE_EVENTS_CONSUMER_BACKOFF_S"),
]


@pytest.mark.parametrize(("field", "old_env"), RENAMED)
def test_the_old_name_still_sets_the_value(
    monkeypatch: pytest.MonkeyPatch, field: str, old_env: str
) -> None:
    monkeypatch.setenv(old_env, "7.5")
    assert getattr(Settings(), field) == 7.5


@pytest.mark.parametrize(("field", "old_env"), RENAMED)
def test_the_new_name_sets_it_and_wins_over_the_old(
    monkeypatch: pytest.MonkeyPatch, field: str, old_env: str
) -> None:
    monkeypatch.setenv(old_env, "7.5")
    monkeypatch.setenv(f"INVOICE_EVENTS_{field.upper()}", "3")
    assert getattr(Settings(), field) == 3
    by_name: dict[str, Any] = {field: 2}
    assert getattr(Settings(**by_name), field) == 2  # keyword arguments by field name
