"""Where benchmarks and evaluations leave their JSON: one writer, so every job does it the same way."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON, creating the folder; non-JSON values become strings."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, default=str))
    return out
