"""Settings of sync-log, from environment variables prefixed ``SYNC_LOG_``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SYNC_LOG_", extra="ignore", frozen=True)

    port: int = Field(default=8003, ge=1, le=65535)
    mongodb_database: str = "sync_log"
