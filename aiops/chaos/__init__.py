"""Chaos experiments without Ray: the fault plan, acknowledged-versus-stored accounting, the table.

`jobs.chaos` runs them on a real two-node cluster (jobs/chaos_cluster.py holds the plumbing)."""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

_EXPORTS = {
    "Fault": ".plan",
    "FULL_PLAN": ".plan",
    "SHORT_PLAN": ".plan",
    "select_faults": ".plan",
    "match_actor": ".plan",
    "PhaseClock": ".accounting",
    "AckBook": ".accounting",
    "RequestLog": ".accounting",
    "Probe": ".accounting",
    "FaultRow": ".accounting",
    "build_rows": ".accounting",
    "rich_table": ".report",
    "markdown_table": ".report",
    "write_json": ".report",
    "stored_sample_counts": ".readback",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
