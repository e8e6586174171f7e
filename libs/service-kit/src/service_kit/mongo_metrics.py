"""What a service asks of its store, as Prometheus counters: commands, and the statements
inside them (documents inserted, update and delete statements; a query or a ``getMore`` is
one), by command and collection.

    mongo_commands_total{command="update",collection="states"}     42
    mongo_statements_total{command="update",collection="states"}   1050

Commands are round trips; statements are what the client asks one by one. A statement may
touch many documents (an ``update_many``, a ``find`` by ``$in``), each of which a
MongoDB-wire server pays for: these counters do not say how many. ``make bench`` divides
both by the invoices a run synced (docs/benchmarks.md, "Issue 18").
"""

from typing import Any

from prometheus_client import Counter
from pymongo import monitoring

COMMANDS = Counter(
    "mongo_commands", "Commands sent to the MongoDB-wire server", ["command", "collection"]
)
STATEMENTS = Counter(
    "mongo_statements",
    "Statements in those commands: documents inserted, updates, deletes; 1 per read",
    ["command", "collection"],
)
# Each holds a command's statements, as PyMongo hands them to listeners.
_BATCHES = {"insert": "documents", "update": "updates", "delete": "deletes"}
# The driver's and the probes' own traffic, not the service's store work.
_IGNORED = frozenset(
    {"hello", "ismaster", "isMaster", "ping", "buildInfo", "buildinfo", "endSessions"}
)


def statements(name: str, command: Any) -> int:
    field = _BATCHES.get(name)
    if field is None:
        return 1
    return len(command.get(field) or ()) or 1


class StoreCommands(monitoring.CommandListener):
    """Counts each command as it starts (a failed one cost the server all the same)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in _IGNORED:
            return
        target = event.command.get(name)
        collection = target if isinstance(target, str) else ""
        if name == "getMore":
            collection = str(event.command.get("collection", ""))
        COMMANDS.labels(name, collection).inc()
        STATEMENTS.labels(name, collection).inc(statements(name, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
