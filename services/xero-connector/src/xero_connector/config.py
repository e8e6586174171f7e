"""Settings of xero-connector, from environment variables prefixed ``XERO_CONNECTOR_``.

The service refuses to start without a token key (``XERO_CONNECTOR_TOKEN_KEYS``, Fernet keys,
comma-separated: the first encrypts, all decrypt, so keys rotate by prepending a new one)
unless ``XERO_CONNECTOR_DEV_MODE=true``, where an ephemeral key is generated at start-up.
"""

from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from service_kit.settings import ServiceSettings, env_names, split_csv

PREFIX = "XERO_CONNECTOR_"

DEFAULT_SCOPES = "offline_access accounting.invoices accounting.contacts accounting.settings.read"


class Settings(ServiceSettings):
    # hide_input_in_errors: a malformed secret must not be echoed by the start-up error.
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    port: int = Field(default=8002, ge=1, le=65535)
    mongodb_database: str = "xero_connector"

    # -- Xero app and endpoints ---------------------------------------------------------------
    xero_client_id: str = Field(default="", description="The Xero app's client id")
    xero_client_secret: SecretStr = SecretStr("")
    redirect_uri: str = "http://127.0.0.1:8002/v1/oauth/callback"
    scopes: str = Field(default=DEFAULT_SCOPES, description="Space-separated OAuth scopes")
    xero_api_url: str = "https://api.xero.com"
    xero_identity_url: str = "https://identity.xero.com"
    xero_login_url: str = "https://login.xero.com"

    # -- HTTP to Xero: explicit timeouts, in seconds ------------------------------------------
    http_connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias=env_names(PREFIX, "http_connect_timeout_seconds", "http_connect_timeout"),
    )
    http_read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=env_names(PREFIX, "http_read_timeout_seconds", "http_read_timeout"),
    )
    http_write_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=env_names(PREFIX, "http_write_timeout_seconds", "http_write_timeout"),
    )
    http_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=env_names(PREFIX, "http_pool_timeout_seconds", "http_pool_timeout"),
    )
    http_max_connections: int = Field(default=50, ge=1)

    # -- Tokens at rest -----------------------------------------------------------------------
    token_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    dev_mode: bool = Field(
        default=False, description="Allow an ephemeral token key (tokens die with the process)"
    )

    # -- OAuth flow and token manager ---------------------------------------------------------
    oauth_state_ttl_seconds: float = Field(default=600, gt=0)
    console_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://127.0.0.1:8005", "http://localhost:8005"],
        description="Origins of the operator console, comma-separated: the only places the "
        "OAuth callback sends a browser back to (a Connect's return_to)",
    )
    refresh_ahead_seconds: float = Field(
        default=120, ge=0, description="Refresh an access token this long before it expires"
    )
    refresh_lease_seconds: float = Field(
        default=45, gt=0, description="How long one instance may hold a connection's refresh"
    )
    refresh_grace_seconds: float = Field(
        default=1500, gt=0, description="Retry a used refresh token this long (Xero: 30 min)"
    )
    refresh_retries: int = Field(default=3, ge=0, description="Retries of a lost refresh")

    # -- Organisation data --------------------------------------------------------------------
    org_cache_ttl_seconds: float = Field(default=300, ge=0)
    recent_currency_days: float = Field(default=90, gt=0)

    # -- The sync pipeline --------------------------------------------------------------------
    consumer_group: str = "xero-connector"
    consume: bool = Field(default=True, description="Run the invoices.events consumer")
    consumer_batch_size: int = Field(default=1000, ge=1, description="Records per poll")
    linger_ms: int = Field(default=200, ge=0, description="How long a poll waits for records")
    overlap_batches: bool = Field(
        default=True,
        description="Publish a batch's results, mark its events processed and commit its "
        "offsets while the next batch is handled (in order; a batch that fails there is sent "
        "back, with the next one when that was fetched before)",
    )
    chunk_size: int = Field(default=50, ge=1, le=100, description="Invoices per Xero write")
    write_lanes: int = Field(
        default=3,
        ge=1,
        description="Chunks of creates sent to one organisation at once (at most "
        "xero_concurrent: Xero allows 5 calls in flight a tenant); a takeover may be followed "
        "by one create already on its way per lane",
    )
    contact_batch_size: int = Field(default=50, ge=1, le=100)
    invoice_lookup: Literal["on_doubt", "always"] = Field(
        default="on_doubt",
        description="Look invoices without a link up by number before every create (always) "
        "or only when a write's outcome is unknown or Xero reports the number taken (on_doubt)",
    )
    invoice_url_template: str = Field(
        default="http://127.0.0.1:8005/orgs/{org_id}/invoices/{invoice_id}",
        description="The source-document link written on every invoice this integration "
        "creates (Xero's Url, shown as 'Go to ...'); with the numbers stored before a create, "
        "it is the proof that a Xero invoice is ours. {org_id} and {invoice_id} are filled in",
    )
    contact_directory_ttl_seconds: float = Field(
        default=300, ge=0, description="How long a tenant's contact list read is reused"
    )
    baseline_mode: bool = Field(
        default=False,
        description="Benchmark baseline: one invoice per call, a contact lookup per invoice",
    )
    write_attempts: int = Field(default=4, ge=1)
    writer_lease_seconds: float = Field(
        default=90,
        gt=0,
        description="How long an organisation's writer lease lasts unrenewed; a successor "
        "waits that long after an instance that died (one that stops normally releases it)",
    )
    batch_deadline_seconds: float = Field(
        default=240,
        gt=0,
        description="A batch sends no new Xero write after this long; what is left fails "
        "xero_unavailable with its automatic retry (keeps a batch well inside the poll interval)",
    )
    max_poll_interval_seconds: float = Field(
        default=600,
        gt=0,
        description="Kafka's max.poll.interval: a batch longer than this loses its partitions",
    )
    xero_retries: int = Field(default=4, ge=0, description="Retries of 5xx and timeouts")
    xero_backoff_seconds: float = Field(default=0.2, gt=0)
    retry_poll_seconds: float = Field(default=30, gt=0)
    processed_events_days: float = Field(
        default=14,
        gt=0,
        description="How long a handled event's id is kept to drop its redelivery (longer "
        "than Kafka keeps a record that could be redelivered)",
    )
    unavailable_retries: int = Field(
        default=3, ge=0, description="Automatic re-syncs of an invoice failed as xero_unavailable"
    )
    unavailable_retry_seconds: float = Field(
        default=60, gt=0, description="Delay before the first of them; doubles each time"
    )

    # -- Xero's rate limits (client side) -----------------------------------------------------
    xero_per_minute: int = Field(default=60, ge=1)
    xero_concurrent: int = Field(default=5, ge=1)
    xero_app_per_minute: int = Field(default=10_000, ge=1)
    xero_time_scale: float = Field(default=1.0, gt=0, description="60: a Xero minute is 1 s")
    xero_limit_margin: float = Field(default=0.03, ge=0)
    xero_day_reset_seconds: float = Field(default=3600, gt=0)

    @field_validator("invoice_url_template")
    @classmethod
    def _names_the_invoice(cls, template: str) -> str:
        if "{invoice_id}" not in template or "{org_id}" not in template:
            raise ValueError("must contain {org_id} and {invoice_id}: it marks our invoices")
        return template

    @field_validator("console_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("console_origins")
    @classmethod
    def _bare_origins(cls, origins: list[str]) -> list[str]:
        for value in origins:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{value!r} is not an http(s) origin")
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ValueError(f"{value!r} is not a bare origin (scheme://host[:port])")
        return [value.rstrip("/") for value in origins]

    @field_validator("token_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("token_keys")
    @classmethod
    def _valid_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys):
            try:
                Fernet(key.get_secret_value())
            except (ValueError, TypeError):
                # Never echo the value: it is a secret even when malformed.
                raise ValueError(
                    f"token key #{index + 1} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None
        return keys

    @model_validator(mode="after")
    def _lease_outlives_a_call(self) -> Self:
        call = (
            self.http_pool_timeout_seconds
            + self.http_connect_timeout_seconds
            + self.http_write_timeout_seconds
            + self.http_read_timeout_seconds
        )
        if self.writer_lease_seconds <= call + 1:  # + writers.RENEW_EVERY
            raise ValueError(
                f"writer_lease_seconds must exceed the longest a Xero call can take ({call:g} s: "
                "the pool, connect, write and read timeouts): a write still in flight when the "
                "lease ends could race its successor"
            )
        return self

    @model_validator(mode="after")
    def _lanes_inside_the_concurrency(self) -> Self:
        if self.write_lanes > self.xero_concurrent:
            raise ValueError(
                "write_lanes must be at most xero_concurrent: the lanes would only queue "
                "behind the client-side limiter"
            )
        return self

    @model_validator(mode="after")
    def _deadline_inside_the_poll_interval(self) -> Self:
        if self.batch_deadline_seconds * 2 > self.max_poll_interval_seconds:
            raise ValueError(
                "batch_deadline_seconds must be at most half of max_poll_interval_seconds: a "
                "batch still writing when its partitions move would race their new owner"
            )
        return self

    @model_validator(mode="after")
    def _key_or_dev_mode(self) -> Self:
        if not self.token_keys and not self.dev_mode:
            raise ValueError(
                "XERO_CONNECTOR_TOKEN_KEYS is required (tokens are encrypted at rest); "
                "generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` or set XERO_CONNECTOR_DEV_MODE=true"
            )
        return self

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
