"""How many Sigma rules carry ``|re`` values that RE2 cannot run (they get the time-budgeted fallback)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import yaml

from aiops.patterns import needs_fallback

__all__ = ["regex_census"]

_FLAG_MODS = {"i": re.IGNORECASE, "ignorecase": re.IGNORECASE, "m": re.MULTILINE, "multiline": re.MULTILINE,
              "s": re.DOTALL, "dotall": re.DOTALL}


def _re_values(node: Any) -> Iterator[tuple[str, int]]:
    """(pattern, re flags) of every ``field|re...`` value under a detection block."""
    if isinstance(node, list):
        for x in node:
            yield from _re_values(x)
    elif isinstance(node, dict):
        for k, v in node.items():
            mods = str(k).split("|")[1:]
            if "re" in mods:
                flags = 0
                for m in mods:
                    flags |= _FLAG_MODS.get(m, 0)
                for p in v if isinstance(v, list) else [v]:
                    if isinstance(p, str):
                        yield p, flags
            else:
                yield from _re_values(v)


def regex_census(root: Path) -> dict[str, Any]:
    """Rules (YAML documents with a detection) under ``root``: with ``|re``, and needing the fallback."""
    rules = with_re = fallback = 0
    examples: list[str] = []
    for path in sorted(root.rglob("*.yml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        for doc in docs:
            if not isinstance(doc, dict) or not isinstance(doc.get("detection"), dict):
                continue
            rules += 1
            pats = list(_re_values(doc["detection"]))
            if not pats:
                continue
            with_re += 1
            if any(needs_fallback(p, f) for p, f in pats):
                fallback += 1
                if len(examples) < 5:
                    examples.append(str(path.relative_to(root)))
    return {"rules": rules, "rules_with_re": with_re, "rules_needing_fallback": fallback, "examples": examples}
