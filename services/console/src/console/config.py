"""Settings of the console, from environment variables prefixed ``CONSOLE_``.

Users are a JSON list, each with an argon2 hash (``python -m console.passwords`` makes one):

    CONSOLE_USERS='[{"name": "ada", "role": "admin", "password_hash": "$argon2id$..."}]'
"""

from enum import IntEnum
from pathlib import Path

from pydantic import BaseModel, Field, HttpUrl, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_kit.settings import env_names

PREFIX = "CONSOLE_"


class Role(IntEnum):
    """Ordered: each role can do everything the ones below it can."""

    viewer = 1  # reads
    operator = 2  # re-syncs
    admin = 3  # connects, disconnects, resets, maps, changes settings


class User(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    password_hash: SecretStr = Field(description="argon2 hash (python -m console.passwords)")

    @field_validator("role", mode="before")
    @classmethod
    def _role_by_name(cls, value: object) -> object:
        return Role[value] if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", frozen=True, populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8005, ge=1, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8005",
        description="How browsers reach the console (Xero's OAuth redirect comes back here)",
    )

    invoice_events_url: HttpUrl = HttpUrl("http://127.0.0.1:8001")
    invoice_events_api_key: SecretStr = SecretStr("")
    xero_connector_url: HttpUrl = HttpUrl("http://127.0.0.1:8002")
    xero_connector_api_key: SecretStr = SecretStr("")
    sync_log_url: HttpUrl = HttpUrl("http://127.0.0.1:8003")
    sync_log_api_key: SecretStr = SecretStr("")
    service_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=env_names(PREFIX, "service_timeout_seconds", "service_timeout_s"),
        description="Timeout of a call to a backend service",
    )

    users: list[User] = Field(default_factory=list)
    session_secret: SecretStr = Field(
        default=SecretStr(""), description="Signs the session cookie; empty: a random one"
    )
    session_max_age_seconds: int = Field(
        default=8 * 3600,
        ge=60,
        validation_alias=env_names(PREFIX, "session_max_age_seconds", "session_max_age_s"),
        description="A session is good this long from sign-in",
    )
    secure_cookies: bool = Field(default=False, description="Cookies only over HTTPS")
    auth_proxy_header: str = Field(
        default="",
        description="Trust this header (set by an auth proxy) as the signed-in user's name",
    )

    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongodb_database: str = "console"

    xero_invoice_url: str = Field(
        default="https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={xero_invoice_id}",
        description="Open in Xero: {xero_invoice_id} is replaced",
    )
    assets_dir: Path | None = Field(
        default=None, description="htmx's dist folder; default: services/console/node_modules"
    )
    page_size: int = Field(default=50, ge=1, le=500)

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; default: JSON unless stderr is a terminal"
    )

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)
