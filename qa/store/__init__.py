"""Results store: SQLite by default (one file, WAL), PostgreSQL by URL. ``open_store(url)`` migrates and connects."""

from qa.store.db import Store, open_store

__all__ = ["Store", "open_store"]
