"""Service settings: env prefixes, comma-separated lists, fail fast on bad values."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from invoice_events.config import Settings as InvoiceEventsSettings
from sync_log.config import Settings as SyncLogSettings
from xero_connector.config import Settings as XeroConnectorSettings


def test_defaults_match_the_contracts_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INVOICE_EVENTS_PORT", "XERO_CONNECTOR_PORT", "SYNC_LOG_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XERO_CONNECTOR_TOKEN_KEYS", Fernet.generate_key().decode())
    assert InvoiceEventsSettings().port == 8001
    assert XeroConnectorSettings().port == 8002
    assert SyncLogSettings().port == 8003


def test_lists_are_comma_separated_and_keys_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_LOG_API_KEYS", "k1, k2")
    monkeypatch.setenv("SYNC_LOG_KAFKA_BOOTSTRAP_SERVERS", "a:1,b:2")
    settings = SyncLogSettings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert settings.kafka_bootstrap_servers == ["a:1", "b:2"]
    assert "k1" not in repr(settings)


def test_a_bad_value_fails_fast_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_CONNECTOR_TOKEN_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("XERO_CONNECTOR_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        XeroConnectorSettings()
