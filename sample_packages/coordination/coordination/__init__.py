"""Executions coordinating by id: an orchestrator, producer/consumers, a timer that signals another."""
