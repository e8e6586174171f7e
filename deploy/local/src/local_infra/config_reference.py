"""The configuration reference in README.md, generated from the pydantic-settings classes.

    python -m local_infra.config_reference            # print the Markdown
    python -m local_infra.config_reference --write    # replace README.md's generated section
    python -m local_infra.config_reference --check    # exit 1 when README.md is stale

One table per service (env var, type, default, description). A field without a description of
its own gets one from ``COMMON`` (the settings every service shares) or none.
"""

import argparse
import importlib
import re
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from local_infra.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
START = (
    "<!-- config-reference:start (generated: python -m local_infra.config_reference --write) -->"
)
END = "<!-- config-reference:end -->"

# (title, "module:Class", what it configures)
SECTIONS: list[tuple[str, str, str]] = [
    ("invoice-events", "invoice_events.config:Settings", "the HTTP front door (:8001)"),
    ("xero-connector", "xero_connector.config:Settings", "mapping and upload to Xero (:8002)"),
    ("sync-log", "sync_log.config:Settings", "outcomes, query API, Sync Log page (:8003)"),
    ("xero-sandbox", "xero_sandbox.config:Settings", "the Xero emulator (:8004, never deployed)"),
    ("console", "console.config:Settings", "the operator console, web (:8005)"),
    ("make run", "local_infra.stack_settings:StackSettings", "the local launcher"),
]

COMMON: dict[str, str] = {
    "host": "Interface the HTTP server binds",
    "port": "HTTP port",
    "kafka_bootstrap_servers": "Kafka bootstrap servers, comma-separated",
    "mongodb_uri": "MongoDB connection string (a replica set in production)",
    "mongodb_database": "Database name",
    "api_keys": "Accepted API keys (Authorization: Bearer), comma-separated",
    "consumer_group": "Kafka consumer group",
    "xero_client_secret": "The Xero app's client secret",
    "redirect_uri": "OAuth redirect URI registered with the Xero app",
    "xero_api_url": "Xero accounting API base URL (the sandbox's URL for local work)",
    "xero_identity_url": "Xero identity (token) base URL",
    "xero_login_url": "Xero login (authorize) base URL",
    "token_keys": "Fernet keys encrypting tokens at rest, comma-separated; the first encrypts",
    "sync_log_url": "Base URL of sync-log (resolves resync filters)",
    "sync_log_api_key": "API key invoice-events uses to call sync-log",
    "client_id": "OAuth client id the sandbox accepts",
    "client_secret": "OAuth client secret the sandbox accepts",
    "redirect_uris": "Accepted redirect URIs, JSON list; empty: any loopback URI",
    "topic_partitions": "Partitions of the topics created at start-up",
    "log_level": "Log level (DEBUG, INFO, WARNING, ...)",
    "per_minute": "Calls per tenant per minute before 429",
    "per_day": "Calls per tenant per day before 429",
    "concurrent": "Concurrent calls per tenant before 429",
    "app_per_minute": "Calls per minute across the app before 429",
    "time_scale": "60 makes a Xero minute last one second",
}

# Descriptions for one section's fields, where the class has none.
SPECIFIC: dict[str, dict[str, str]] = {
    "invoice-events": {"sync_log_timeout_seconds": "Timeout of a call to sync-log, seconds"},
    "xero-connector": {
        "http_connect_timeout_seconds": "Connect timeout of calls to Xero, seconds",
        "http_read_timeout_seconds": "Read timeout of calls to Xero, seconds",
        "http_write_timeout_seconds": "Write timeout of calls to Xero, seconds",
        "http_pool_timeout_seconds": "Wait for a free connection to Xero, seconds",
        "http_max_connections": "Connections to Xero per process",
        "oauth_state_ttl_seconds": "How long a Connect link (OAuth state) stays valid",
        "org_cache_ttl_seconds": "How long Xero's currencies, tax rates and accounts are cached",
        "recent_currency_days": "The mapping check looks at currencies of this many days",
        "contact_batch_size": "Contacts per Xero write",
        "write_attempts": "Tries of a Xero write whose outcome is unknown before xero_unavailable",
        "xero_backoff_seconds": "First retry delay after a 5xx or timeout",
        "retry_poll_seconds": "How often due retries (rate_limited, xero_unavailable) are sent",
        "xero_per_minute": "Calls per tenant per minute (Xero: 60)",
        "xero_concurrent": "Concurrent calls per tenant (Xero: 5)",
        "xero_app_per_minute": "Calls per minute across tenants (Xero: 10000)",
        "xero_limit_margin": "Each rate-limit window is widened by this fraction",
        "xero_day_reset_seconds": "Wait before probing again once the daily limit is spent",
    },
    "sync-log": {
        "api_enabled": "Serve the query API and page (off: a consumer-only process)",
        "consumer_enabled": "Run the consumers (off: an API-only process)",
        "consumer_batch_size": "Records per poll",
        "retention_interval_seconds": "How often entries older than the retention are deleted",
        "csv_max_rows": "Most rows of one CSV export",
    },
    "xero-sandbox": {
        "provider_name": "Name shown as the OAuth provider",
        "idempotency_ttl_seconds": "How long Idempotency-Keys are kept (real seconds)",
        "request_log_size": "Requests kept for GET /_sandbox/requests",
    },
    "make run": {
        "dev_api_key": "The API key make run gives every service",
        "invoice_events_port": "Port of invoice-events",
        "xero_connector_port": "Port of xero-connector",
        "sync_log_port": "Port of sync-log",
        "xero_sandbox_port": "Port of the Xero sandbox",
        "kafka_port": "Port of the local Kafka",
        "mongodb_port": "Port of the local MongoDB-wire server",
        "topic_prefix": "Prepended to every topic name",
        "database_prefix": "Prepended to every database name",
        "topic_partitions": "Partitions of the topics make run creates",
        "run_dir": "Where make run keeps its state (default .cache/infra/run)",
        "ready_timeout_seconds": "How long each process may take to become ready",
    },
}


def env_name(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0].upper()
    if isinstance(alias, str):
        return alias.upper()
    prefix = str(model.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def old_names(field: FieldInfo) -> list[str]:
    """The environment names a renamed setting still reads (upper-case alias choices after
    the first; lower-case choices are keyword-argument names, not environment variables)."""
    alias = field.validation_alias
    if not isinstance(alias, AliasChoices):
        return []
    names = [c for c in alias.choices[1:] if isinstance(c, str) and c.isupper()]
    return [f"`{name}`" for name in names]


def type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " \\| ".join(type_name(arg) for arg in get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        if name == "Literal":
            return " \\| ".join(repr(arg) for arg in get_args(annotation))
        return f"{name}[{args}]" if args else name
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
        if not isinstance(value, list | dict | tuple | set) or value:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return f"`{text}`" if text else '""'


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def table(model: type[BaseModel], title: str = "") -> str:
    lines = ["| env var | type | default | description |", "| --- | --- | --- | --- |"]
    specific = SPECIFIC.get(title, {})
    for name, field in model.model_fields.items():
        description = field.description or specific.get(name) or COMMON.get(name, "")
        if formerly := old_names(field):
            description = f"{description} (old name, still read: {', '.join(formerly)})".strip()
        lines.append(
            f"| `{env_name(model, name, field)}` | {type_name(field.annotation)} "
            f"| {default_text(field)} | {_cell(description)} |"
        )
    return "\n".join(lines)


def load(target: str) -> type[BaseModel]:
    module, _, name = target.partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def render() -> str:
    parts: list[str] = []
    for title, target, what in SECTIONS:
        parts.append(f"#### {title} — {what}\n\n{table(load(target), title)}\n")
    return "\n".join(parts)


def section(text: str) -> str:
    """The generated section of ``text`` (between the markers), or raise."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no generated section ({START} … {END})")
    return text[start + len(START) : end].strip("\n")


def updated(text: str) -> str:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no generated section ({START} … {END})")
    return text[: start + len(START)] + "\n" + render() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="config_reference", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="update README.md in place")
    group.add_argument("--check", action="store_true", help="exit 1 when README.md is stale")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    if not (args.write or args.check):
        sys.stdout.write(render())
        return 0
    text = args.readme.read_text()
    if args.check:
        if section(text) != render().strip("\n"):
            print(f"{args.readme} is stale: python -m local_infra.config_reference --write")
            return 1
        return 0
    args.readme.write_text(updated(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
