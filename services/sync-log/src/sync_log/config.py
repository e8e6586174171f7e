"""Settings of sync-log, from environment variables prefixed ``SYNC_LOG_``."""

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SYNC_LOG_", extra="ignore", frozen=True)

    port: int = Field(default=8003, ge=1, le=65535)
    mongodb_database: str = "sync_log"

    # The read API and the consumer scale separately: run one process with each switched off.
    api_enabled: bool = True
    consumer_enabled: bool = True

    consumer_group: str = "sync-log"
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    write_retry_seconds: float = Field(
        default=60.0, gt=0, description="Keep retrying a batch write this long before a nack"
    )
    recent_states: int = Field(
        default=50_000,
        ge=0,
        description="Invoice states kept in memory so that an invoice's next event folds "
        "without a read (stale ones are caught by the compare-and-set); 0 reads every time",
    )
    retention_days: float = Field(default=90, ge=0, description="0 keeps entries forever")
    retention_interval_seconds: float = Field(default=3600, gt=0)
    csv_max_rows: int = Field(default=100_000, ge=1)
    console_url: str = Field(
        default="",
        description="The operator console's base URL (e.g. http://127.0.0.1:8005): when set, "
        "GET / (the old Sync Log page) redirects to its /sync-log; empty keeps the page",
    )

    @field_validator("console_url")
    @classmethod
    def _absolute(cls, url: str) -> str:
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ValueError("must be an absolute http(s) URL, or empty")
        return url.rstrip("/")
