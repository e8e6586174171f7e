"""Console durations renamed to ``_seconds`` (issue 16): the old environment names still work."""

import pytest

from console.config import Settings


def test_the_old_names_still_set_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_SERVICE_TIMEOUT_S", "4.5")
    monkeypatch.setenv("CONSOLE_SESSION_MAX_AGE_S", "600")
    settings = Settings()
    assert settings.service_timeout_seconds == 4.5
    assert settings.session_max_age_seconds == 600


def test_the_new_names_win_over_the_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_SERVICE_TIMEOUT_S", "4.5")
    monkeypatch.setenv("CONSOLE_SERVICE_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("CONSOLE_SESSION_MAX_AGE_S", "600")
    monkeypatch.setenv("CONSOLE_SESSION_MAX_AGE_SECONDS", "900")
    settings = Settings()
    assert settings.service_timeout_seconds == 2
    assert settings.session_max_age_seconds == 900
