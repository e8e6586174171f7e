"""The settings every service has. Each service subclasses this with its own env prefix."""

from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def env_names(prefix: str, name: str, *old_names: str) -> AliasChoices:
    """The environment variables of a renamed setting: ``prefix + name`` first (the one the
    configuration reference shows, and the one that wins when both are set), then each old
    name, still read so a deployment that sets it keeps working. Keyword arguments use the
    field name (``populate_by_name``)."""
    return AliasChoices(*(f"{prefix}{n}".upper() for n in (name, *old_names)))


def split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServiceSettings(BaseSettings):
    """Common settings. Comma-separated lists are accepted for list fields."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    kafka_bootstrap_servers: Annotated[list[str], NoDecode] = ["127.0.0.1:9092"]
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongodb_database: str
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger request bodies get 413"
    )
    topic_prefix: str = Field(default="", description="Prepended to every topic name (tests)")
    topic_partitions: int = Field(default=12, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1, description="3 on a real cluster")
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; default: JSON unless stderr is a terminal"
    )
    gc_tuned: bool = Field(
        default=True,
        description="Freeze the start-up's objects and collect garbage less often "
        "(service_kit.collector); false keeps CPython's defaults",
    )

    @field_validator("kafka_bootstrap_servers", "api_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_csv(value)
