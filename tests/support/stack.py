"""Settings for a whole stack as ``make run`` starts it (``local_infra.stack``), on free ports,
with its own topics and databases over the given Kafka and MongoDB — for the e2e and
reliability tests."""

from pathlib import Path
from typing import Any

from local_infra import free_port
from local_infra.stack_settings import StackSettings

KEY = "e2e-dev-key"


def stack_settings(
    kafka: str, mongodb: str, unique: str, run_dir: Path, **overrides: Any
) -> StackSettings:
    values: dict[str, Any] = {
        "dev_api_key": KEY,
        "invoice_events_port": free_port(),
        "xero_connector_port": free_port(),
        "sync_log_port": free_port(),
        "xero_sandbox_port": free_port(),
        "console_port": free_port(),
        "kafka_bootstrap_servers": kafka,
        "mongodb_uri": mongodb,
        "topic_prefix": unique,
        "database_prefix": f"{unique[:40]}_",
        "topic_partitions": 3,
        "run_dir": run_dir,
        "xero_connector_token_keys": "",
        "keep_data": False,
    }
    return StackSettings(**(values | overrides))
