"""``make run``'s ready timeout renamed to ``_seconds`` (issue 16): the old name still works."""

import pytest

from local_infra.stack_settings import StackSettings


def test_the_old_name_still_sets_the_ready_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_SYNC_READY_TIMEOUT", "30")
    assert StackSettings().ready_timeout_seconds == 30


def test_the_new_name_wins_over_the_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_SYNC_READY_TIMEOUT", "30")
    monkeypatch.setenv("XERO_SYNC_READY_TIMEOUT_SECONDS", "45")
    assert StackSettings().ready_timeout_seconds == 45
