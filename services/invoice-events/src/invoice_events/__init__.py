"""The front door for the invoicing system: ingest, snapshots, manual sync and bulk resync."""

__version__ = "0.1.0"
