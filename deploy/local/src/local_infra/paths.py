"""Where the recipes live (tracked) and where their products go (gitignored cache)."""

import os
from pathlib import Path

DEPLOY_LOCAL = Path(__file__).resolve().parents[2]
REPO_ROOT = DEPLOY_LOCAL.parents[1]

KAFKA_RECIPE = DEPLOY_LOCAL / "kafka"
FERRETDB_RECIPE = DEPLOY_LOCAL / "ferretdb"


def cache_dir() -> Path:
    """``$XERO_SYNC_CACHE`` or ``<repo>/.cache``."""
    return Path(os.environ.get("XERO_SYNC_CACHE", REPO_ROOT / ".cache")).resolve()


def state_dir() -> Path:
    """Pid files, logs and data of the servers ``local-infra up`` keeps running."""
    return cache_dir() / "infra"
