"""Offline hunting over recorded security logs (``aiops hunt``): read, parse, detect, correlate, report."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["hunt", "hunt_with_settings", "file_table", "write_outputs", "HuntResult", "read_events", "FileSummary", "HUNT_FORMATS"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "hunt": ".run", "hunt_with_settings": ".run", "file_table": ".run", "write_outputs": ".run", "HuntResult": ".run", "read_events": ".parse", "FileSummary": ".parse",
    "HUNT_FORMATS": ".sniff",
})
