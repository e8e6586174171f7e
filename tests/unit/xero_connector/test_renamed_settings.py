"""Xero timeouts renamed to ``_seconds`` (issue 16): the old environment names still set them."""

import pytest

from xero_connector.config import Settings

RENAMED = ["http_connect_timeout", "http_read_timeout", "http_write_timeout", "http_pool_timeout"]


@pytest.mark.parametrize("old", RENAMED)
def test_the_old_name_still_sets_the_value(monkeypatch: pytest.MonkeyPatch, old: str) -> None:
    monkeypatch.setenv("XERO_CONNECTOR_DEV_MODE", "true")
    monkeypatch.setenv(f"XERO_CONNECTOR_{old.upper()}", "4.5")
    assert getattr(Settings(), f"{old}_seconds") == 4.5


@pytest.mark.parametrize("old", RENAMED)
def test_the_new_name_wins_over_the_old(monkeypatch: pytest.MonkeyPatch, old: str) -> None:
    monkeypatch.setenv("XERO_CONNECTOR_DEV_MODE", "true")
    monkeypatch.setenv(f"XERO_CONNECTOR_{old.upper()}", "4.5")
    monkeypatch.setenv(f"XERO_CONNECTOR_{old.upper()}_SECONDS", "2")
    assert getattr(Settings(), f"{old}_seconds") == 2
