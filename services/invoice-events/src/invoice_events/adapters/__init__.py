"""I/O only: MongoDB stores, the Kafka publisher, the sync-log API client."""
