"""The sandbox's one settings class (env prefix ``XERO_SANDBOX_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the sandbox can be told from outside; defaults emulate a standard Xero app.

    List values come from the environment as JSON, e.g.
    ``XERO_SANDBOX_REDIRECT_URIS='["http://127.0.0.1:8002/v1/oauth/callback"]'``.
    """

    model_config = SettingsConfigDict(env_prefix="XERO_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8004, ge=0, le=65535)
    client_id: str = "sandbox"
    client_secret: SecretStr = SecretStr("sandbox")
    # Empty means any loopback redirect URI is accepted (the default for local work).
    redirect_uris: list[str] = Field(default_factory=list)
    provider_name: str = "Xero Sandbox"

    # Idempotency keys are kept this many real seconds (not scaled by time_scale).
    idempotency_ttl_seconds: float = Field(default=360.0, gt=0)

    per_minute: int = Field(default=60, ge=0)
    per_day: int = Field(default=5000, ge=0)
    concurrent: int = Field(default=5, ge=0)
    app_per_minute: int = Field(default=10000, ge=0)
    # 60 makes a Xero minute last one real second (and a Xero day 24 real minutes).
    time_scale: float = Field(default=1.0, gt=0)

    request_log_size: int = Field(default=1000, ge=0)
    log_level: str = "info"
