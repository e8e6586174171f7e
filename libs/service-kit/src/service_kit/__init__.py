"""Plumbing shared by the services. Nothing here knows about invoices or Xero."""
