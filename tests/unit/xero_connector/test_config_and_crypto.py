"""Settings fail fast without a token key outside dev mode; keys rotate."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from xero_connector.config import DEFAULT_SCOPES, Settings
from xero_connector.crypto import TokenCipher, UndecryptableTokens


def test_no_token_key_outside_dev_mode_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="XERO_CONNECTOR_TOKEN_KEYS is required"):
        Settings()


def test_dev_mode_runs_on_an_ephemeral_key() -> None:
    settings = Settings(dev_mode=True)
    cipher = TokenCipher.from_settings(settings)
    assert cipher.decrypt(cipher.encrypt("x")) == "x"


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(token_keys="not-a-real-key-but-a-secret")
    assert "not-a-real-key-but-a-secret" not in str(caught.value)
    assert "token key #1 is not a Fernet key" in str(caught.value)


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("XERO_CONNECTOR_TOKEN_KEYS", f"{key}, {Fernet.generate_key().decode()}")
    monkeypatch.setenv("XERO_CONNECTOR_XERO_API_URL", "http://127.0.0.1:8004")
    settings = Settings()
    assert len(settings.token_keys) == 2
    assert settings.xero_api_url == "http://127.0.0.1:8004"
    assert settings.xero_identity_url == "https://identity.xero.com"
    assert settings.redirect_uri == "http://127.0.0.1:8002/v1/oauth/callback"
    assert settings.scopes == DEFAULT_SCOPES
    assert "offline_access" in settings.scope_list
    assert key not in repr(settings)


def test_keys_rotate_first_encrypts_all_decrypt() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = TokenCipher.from_keys([old]).encrypt_json({"refresh_token": "r-123"})
    rotated = TokenCipher.from_keys([new, old])
    assert rotated.decrypt_json(before) == {"refresh_token": "r-123"}
    fresh = rotated.encrypt("r-456")
    assert b"r-456" not in fresh
    assert TokenCipher.from_keys([new]).decrypt(fresh) == "r-456"
    assert TokenCipher.from_keys([new]).decrypt(rotated.rotate(before))
    with pytest.raises(UndecryptableTokens):
        TokenCipher.from_keys([old]).decrypt(fresh)


def test_the_batch_deadline_must_sit_well_inside_the_poll_interval() -> None:
    with pytest.raises(ValidationError, match="at most half of max_poll_interval_seconds"):
        Settings(dev_mode=True, batch_deadline_seconds=400, max_poll_interval_seconds=600)
    assert Settings(dev_mode=True).batch_deadline_seconds * 2 <= 600


def test_write_lanes_fit_inside_xeros_concurrent_calls() -> None:
    with pytest.raises(ValidationError, match="write_lanes must be at most xero_concurrent"):
        Settings(dev_mode=True, write_lanes=4, xero_concurrent=3)
    defaults = Settings(dev_mode=True)
    assert 1 < defaults.write_lanes < defaults.xero_concurrent  # room for the other calls


def test_the_url_template_must_name_the_invoice() -> None:
    with pytest.raises(ValidationError, match="invoice_id"):
        Settings(dev_mode=True, invoice_url_template="https://console.example/orgs/{org_id}")


def test_the_console_origins_default_to_the_local_console_and_must_be_bare_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(dev_mode=True).console_origins == [
        "http://127.0.0.1:8005",
        "http://localhost:8005",
    ]
    monkeypatch.setenv("XERO_CONNECTOR_CONSOLE_ORIGINS", "https://ops.example/, http://a:1")
    assert Settings(dev_mode=True).console_origins == ["https://ops.example", "http://a:1"]
    for bad in ("https://ops.example/console", "ops.example", "ftp://ops.example"):
        with pytest.raises(ValidationError, match="origin"):
            Settings(dev_mode=True, console_origins=bad)
