"""Stores every sync outcome and serves the sync-log query API and page."""

__version__ = "0.1.0"
