"""What ``local-infra run`` (``make run``) can be told, from the environment.

Ports use the services' own variable names, so ``SYNC_LOG_PORT=9003 make run`` moves sync-log
and tells every other process where it is. ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` (the
same variables the test fixtures read) point the stack at servers that are already running;
without them the local Kafka and MongoDB-wire server are started (``local-infra up``).
"""

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from local_infra.paths import state_dir


def _alias(env: str, name: str) -> AliasChoices:
    # The env name for the environment, the field name for keyword arguments (tests).
    return AliasChoices(env, name)


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    dev_api_key: str = Field(default="dev-key", min_length=1)

    invoice_events_port: int = Field(default=8001, ge=1, le=65535)
    xero_connector_port: int = Field(default=8002, ge=1, le=65535)
    sync_log_port: int = Field(default=8003, ge=1, le=65535)
    xero_sandbox_port: int = Field(default=8004, ge=1, le=65535)
    console_port: int = Field(default=8005, ge=1, le=65535)
    console_dev_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_alias("XERO_SYNC_CONSOLE_PASSWORD", "console_dev_password"),
        description="The console's dev users' password; default: one kept in run_dir (dev only)",
    )

    kafka_port: int = Field(default=9092, ge=1, le=65535)
    mongodb_port: int = Field(default=27017, ge=1, le=65535)
    kafka_bootstrap_servers: str = Field(default="", description="Use this Kafka, start none")
    mongodb_uri: str = Field(default="", description="Use this MongoDB, start none")

    xero_connector_token_keys: str = Field(
        default="", description="Fernet key(s); default: one kept in run_dir (dev only)"
    )
    sandbox_client_secret: SecretStr = Field(
        default=SecretStr("sandbox"),
        validation_alias=_alias("XERO_SYNC_SANDBOX_CLIENT_SECRET", "sandbox_client_secret"),
        description="The OAuth client secret the sandbox accepts and the connector sends",
    )
    topic_prefix: str = Field(
        default="", validation_alias=_alias("XERO_SYNC_TOPIC_PREFIX", "topic_prefix")
    )
    database_prefix: str = Field(
        default="", validation_alias=_alias("XERO_SYNC_DATABASE_PREFIX", "database_prefix")
    )
    topic_partitions: int = Field(
        default=12, ge=1, validation_alias=_alias("XERO_SYNC_TOPIC_PARTITIONS", "topic_partitions")
    )
    keep_data: bool = Field(
        default=False,
        validation_alias=_alias("XERO_SYNC_KEEP_DATA", "keep_data"),
        description="Keep the services' databases (default: start empty, like the sandbox)",
    )
    run_dir: Path = Field(
        default_factory=lambda: state_dir() / "run",
        validation_alias=_alias("XERO_SYNC_RUN_DIR", "run_dir"),
    )
    ready_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        # XERO_SYNC_READY_TIMEOUT and ready_timeout_s are the old names, still read.
        validation_alias=AliasChoices(
            "XERO_SYNC_READY_TIMEOUT_SECONDS",
            "XERO_SYNC_READY_TIMEOUT",
            "ready_timeout_seconds",
            "ready_timeout_s",
        ),
    )

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def invoice_events_url(self) -> str:
        return self.url(self.invoice_events_port)

    @property
    def xero_connector_url(self) -> str:
        return self.url(self.xero_connector_port)

    @property
    def sync_log_url(self) -> str:
        return self.url(self.sync_log_port)

    @property
    def console_url(self) -> str:
        return self.url(self.console_port)

    @property
    def sandbox_url(self) -> str:
        return self.url(self.xero_sandbox_port)

    def database(self, name: str) -> str:
        return f"{self.database_prefix}{name}"

    def consumer_group(self, name: str) -> str:
        return f"{self.topic_prefix}-{name}" if self.topic_prefix else name
