"""Settings of invoice-events, from environment variables prefixed ``INVOICE_EVENTS_``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICE_EVENTS_", extra="ignore", frozen=True)

    port: int = Field(default=8001, ge=1, le=65535)
    mongodb_database: str = "invoice_events"
