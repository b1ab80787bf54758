"""The durable store: tables (`models`), the engine factory and migrations (`engine`), hot-path SQL."""

from .engine import default_home, migrate, open_engine, reader, resolve_url, skip_locked

__all__ = ["default_home", "migrate", "open_engine", "reader", "resolve_url", "skip_locked"]
