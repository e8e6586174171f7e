"""Test support shared across levels: real infrastructure endpoints and helpers."""
