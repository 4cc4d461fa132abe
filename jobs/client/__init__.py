"""The `aiops` command line's thin client of the HTTP API: the client, the tables, the commands (no Ray)."""
from __future__ import annotations

__all__ = ["http", "tables", "commands"]
