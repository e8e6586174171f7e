"""The sync use case: a pure planner, a thin orchestrator, the writer."""
