"""Settings of xero-connector, from environment variables prefixed ``XERO_CONNECTOR_``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="XERO_CONNECTOR_", extra="ignore", frozen=True)

    port: int = Field(default=8002, ge=1, le=65535)
    mongodb_database: str = "xero_connector"
