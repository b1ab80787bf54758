"""The durable store: tables (`models`, as Core in `tables`), the engine and schema (`engine`), hot-path SQL."""

from .engine import default_home, migrate, open_engine, reader, resolve_url, skip_locked

__all__ = ["default_home", "migrate", "open_engine", "reader", "resolve_url", "skip_locked"]
