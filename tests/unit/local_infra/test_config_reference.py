"""README.md's configuration reference is what the Settings classes say today."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from local_infra import config_reference
from local_infra.config_reference import README, render, section, table, updated


def test_the_readme_configuration_reference_is_not_stale() -> None:
    assert section(README.read_text()) == render().strip("\n"), (
        "the Settings classes changed: run `python -m local_infra.config_reference --write` "
        "and commit README.md"
    )


def test_every_service_has_a_table_with_every_setting() -> None:
    text = render()
    for title, _, _ in config_reference.SECTIONS:
        assert f"#### {title} " in text
    for env in (
        "INVOICE_EVENTS_API_KEYS",
        "XERO_CONNECTOR_XERO_CLIENT_ID",
        "XERO_CONNECTOR_SCOPES",
        "XERO_CONNECTOR_REDIRECT_URI",
        "SYNC_LOG_RETENTION_DAYS",
        "XERO_SANDBOX_TIME_SCALE",
        "DEV_API_KEY",
        "XERO_SYNC_KEEP_DATA",
    ):
        assert f"| `{env}` |" in text, env


class Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EX_")

    name: str = Field(description="a | pipe")
    secret: SecretStr = SecretStr("shown-as-default")
    mode: Literal["a", "b"] = "a"
    maybe: int | None = None
    items: list[str] = Field(default_factory=list)
    port: int = 8001


def test_a_table_row_per_field_with_env_type_default_and_description() -> None:
    rows = table(Example).splitlines()[2:]
    assert rows == [
        "| `EX_NAME` | str | required | a \\| pipe |",
        "| `EX_SECRET` | SecretStr | `shown-as-default` |  |",
        "| `EX_MODE` | 'a' \\| 'b' | `a` |  |",
        "| `EX_MAYBE` | int \\| None | none |  |",
        '| `EX_ITEMS` | list[str] | "" |  |',
        "| `EX_PORT` | int | `8001` | HTTP port |",
    ]


def test_write_replaces_only_the_generated_section() -> None:
    text = f"intro\n{config_reference.START}\nSTALE-TABLE\n{config_reference.END}\noutro\n"
    new = updated(text)
    assert new.startswith("intro\n") and new.endswith(f"{config_reference.END}\noutro\n")
    assert "STALE-TABLE" not in new
    assert section(new) == render().strip("\n")
