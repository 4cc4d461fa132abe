"""The chaos run's table (rich, for the terminal), its markdown (docs/benchmarks/chaos.md) and JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from aiops.chaos.accounting import FaultRow

__all__ = ["COLUMNS", "table_cells", "rich_table", "markdown_table", "write_json"]

COLUMNS = ("fault", "samples acked", "lost", "dup", "events acked", "lost", "dup", "unacked pub",
           "GETs", "failed", "retried", "slowest s", "errors for s", "predictions back s", "ingest back s")


def _s(v: Any) -> str:
    return "-" if v is None else str(v)


def table_cells(row: FaultRow) -> list[str]:
    """One row's cells in COLUMNS order (recovery times in seconds from the fault; '-' none needed/seen)."""
    h = row.http
    return [row.phase, str(row.samples_acked), str(row.samples_lost), str(row.sample_duplicates), str(row.events_acked),
            str(row.events_lost), str(row.event_duplicates), str(row.unacked_publishes), str(h["http_requests"]),
            str(h["http_failed"]), str(h["http_retried"]), _s(h["http_slowest_ok_s"]), _s(h["http_error_span_s"]), _s(h.get("predict_back_s")),
            _s(row.ingest_back_s)]


def rich_table(rows: Sequence[FaultRow], title: str = "chaos: one fault at a time under load") -> Any:
    """A rich Table; lost counts above zero are red."""
    from rich.table import Table

    t = Table(title=title)
    for c in COLUMNS:
        t.add_column(c, justify="left" if c == "fault" else "right")
    for r in rows:
        cells = table_cells(r)
        for i in (2, 5):
            if cells[i] != "0":
                cells[i] = f"[bold red]{cells[i]}[/]"
        t.add_row(*cells)
    return t


def markdown_table(rows: Sequence[FaultRow]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def write_json(path: Path, rows: Sequence[FaultRow], meta: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": [r.as_dict() for r in rows],
                                "all_acked_stored": all(r.ok for r in rows)}, indent=2, default=str))
    return path
