"""Real Kafka and a MongoDB-wire server on a machine without a Docker engine.

Kafka comes from Maven Central as jars and runs as a single-node KRaft broker; MongoDB is a
real ``mongod`` when one is on PATH, else FerretDB v1 (SQLite) built from the Go module proxy
through the small wrapper in ``deploy/local/ferretdb``. Downloads, builds and server data live
in the gitignored ``.cache/`` of the repository.
"""

from local_infra.servers import KafkaServer, MongoServer, free_port

__all__ = ["KafkaServer", "MongoServer", "free_port"]
