"""Settings of invoice-events, from environment variables prefixed ``INVOICE_EVENTS_``."""

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, env_names

PREFIX = "INVOICE_EVENTS_"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    port: int = Field(default=8001, ge=1, le=65535)
    mongodb_database: str = "invoice_events"

    consumer_group: str = Field(
        default="invoice-events", min_length=1, description="Kafka group of both consumers"
    )
    sync_log_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    sync_log_api_key: SecretStr = SecretStr("")
    sync_log_timeout_seconds: float = Field(
        validation_alias=env_names(PREFIX, "sync_log_timeout_seconds", "sync_log_timeout_s"),
        default=10.0,
        gt=0,
    )
    sync_log_page_size: int = Field(default=500, ge=1, le=500, description="Rows per page asked")

    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Larger request bodies get 413"
    )
    idempotency_ttl_seconds: float = Field(
        validation_alias=env_names(PREFIX, "idempotency_ttl_seconds", "idempotency_ttl_s"),
        default=24 * 3600,
        gt=0,
        description="How long an Idempotency-Key is remembered",
    )
    claim_lease_seconds: float = Field(
        validation_alias=env_names(PREFIX, "claim_lease_seconds", "claim_lease_s"),
        default=15.0,
        gt=0,
        description="A pending publish older than this is taken over and completed by others",
    )
    sweep_interval_seconds: float = Field(
        validation_alias=env_names(PREFIX, "sweep_interval_seconds", "sweep_interval_s"),
        default=5.0,
        gt=0,
        description="How often stale pending publishes and old keys are swept",
    )
    mark_interval_seconds: float = Field(
        validation_alias=env_names(PREFIX, "mark_interval_seconds", "mark_interval_s"),
        default=0.05,
        gt=0,
        description="How often published snapshots are marked, in one write",
    )
    publish_timeout_seconds: float = Field(
        validation_alias=env_names(PREFIX, "publish_timeout_seconds", "publish_timeout_s"),
        default=10.0,
        gt=0,
        description="Wait for Kafka's ack",
    )
    publish_concurrency: int = Field(default=64, ge=1, description="In-flight publishes per call")
    consumer_max_attempts: int = Field(
        default=5, ge=1, description="Tries of a record on a transient failure before a nack"
    )
    consumer_backoff_seconds: float = Field(
        validation_alias=env_names(PREFIX, "consumer_backoff_seconds", "consumer_backoff_s"),
        default=0.2,
        gt=0,
        description="First retry delay",
    )
