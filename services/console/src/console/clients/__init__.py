"""Typed clients of the three services, each with the console's own server-side API key."""
