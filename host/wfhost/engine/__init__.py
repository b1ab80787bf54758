"""Running executions: the scheduler, dispatch to executors, durable calls, waits and notification."""

__all__: list[str] = []
