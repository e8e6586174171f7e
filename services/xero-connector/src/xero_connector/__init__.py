"""Maps invoice events to Xero and uploads them, exactly once per invoice version."""

__version__ = "0.1.0"
