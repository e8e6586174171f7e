"""The operator console: Settings > Integrations > Xero, server-rendered over the services' APIs."""

__version__ = "0.1.0"
