"""Normalised security event schema (ECS-like) shared by parsers, rules and correlators.

Every parser turns its input into :class:`SecurityEvent`; everything downstream (Sigma
matching, suppression, graph correlation) reads only this type. The normalised columns
(user, src_ip, ...) serve correlation; ``fields`` keeps the source's own field names,
because Sigma rules are written against those (``Image``, ``eventName``, ``id.orig_h``).
Malformed input becomes a :class:`Rejection` with a reason, never an exception upstream.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping


@dataclass(frozen=True, slots=True)
class LogSource:
    """Sigma logsource triple; ``categories`` may hold several (Sysmon 13 is registry_set and registry_event)."""

    product: str | None = None
    service: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(slots=True)
class SecurityEvent:
    """One normalised security event.

    ``timestamp`` is epoch seconds (UTC). ``fields`` are the source fields (nested dicts
    allowed) that Sigma rules match on; ``tags`` carries ATT&CK ids when the source or a
    rule attached them. ``raw`` keeps the original line/object for forensics.
    """

    timestamp: float
    source: str
    logsource: LogSource
    host: str | None = None
    vm_id: str | None = None
    user: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    process: str | None = None
    action: str | None = None
    outcome: str | None = None
    tags: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    # ids of the Sigma detection rules a collector already matched (None: not matched yet)
    rule_hits: tuple[str, ...] | None = None
    _view: "FieldView | None" = field(default=None, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as constructor arguments: a third of the default slots pickling cost when
        collectors hand batches to the correlator actor (the cached field view is not sent)."""
        return (SecurityEvent, (self.timestamp, self.source, self.logsource, self.host, self.vm_id, self.user,
                                self.src_ip, self.dst_ip, self.process, self.action, self.outcome, self.tags,
                                self.fields, self.raw, self.rule_hits))

    def normalised(self) -> dict[str, Any]:
        """The ECS-like columns as a plain dict (for JSON export and the correlator)."""
        return {
            "timestamp": self.timestamp,
            "source": self.source,
            "host": self.host,
            "vm_id": self.vm_id,
            "user": self.user,
            "src_ip": self.src_ip,
            "dst_ip": self.dst_ip,
            "process": self.process,
            "action": self.action,
            "outcome": self.outcome,
            "tags": list(self.tags),
        }

    def view(self) -> "FieldView":
        """Case-insensitive flat view used by rule matchers; built once and cached."""
        if self._view is None:
            self._view = FieldView.build(self)
        return self._view


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one input record could not become an event."""

    source: str
    reason: str
    line_no: int | None = None
    sample: str = ""


class RejectionCounter:
    """Counts rejections per (source, reason) and keeps the first few samples for debugging."""

    def __init__(self, keep_samples: int = 20) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.samples: list[Rejection] = []
        self._keep = keep_samples
        self.truncated: Counter[str] = Counter()  # records / fields cut to the pattern caps, per source (kept)

    def add(self, rej: Rejection) -> None:
        self.counts[(rej.source, rej.reason)] += 1
        if len(self.samples) < self._keep:
            self.samples.append(rej)

    def merge(self, counts: Mapping[tuple[str, str], int], samples: Iterable[Rejection] = ()) -> None:
        """Add counts taken elsewhere (a collector parsed the records before handing them over)."""
        self.counts.update(counts)
        for rej in samples:
            if len(self.samples) >= self._keep:
                break
            self.samples.append(rej)

    def take(self) -> tuple[dict[tuple[str, str], int], list[Rejection]]:
        """Counts and samples since the last take, then reset (for handing over with a batch)."""
        out = dict(self.counts), list(self.samples)
        self.counts.clear()
        self.samples.clear()
        return out

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return {f"{s}:{r}": n for (s, r), n in sorted(self.counts.items())}


# Normalised columns exposed to rules under these names unless the source already has the key.
_NORMALISED_KEYS = ("host", "vm_id", "user", "src_ip", "dst_ip", "process", "action", "outcome")


MAX_DEPTH = 16  # deeper JSON is kept as text under its parent key (hostile input must not recurse forever)


def flatten(obj: Mapping[str, Any], prefix: str = "", out: dict[str, list[Any]] | None = None, depth: int = 0) -> dict[str, list[Any]]:
    """Flatten nested mappings into lower-case dotted keys; list elements append to the same key.

    Sigma addresses nested JSON with dots (``userIdentity.type``) and compares field names
    case-insensitively here, so keys are lower-cased once at flatten time.
    """
    out = {} if out is None else out
    for k, v in obj.items():
        key = f"{prefix}{str(k).lower()}"
        _put(key, v, out, depth)
    return out


def _put(key: str, v: Any, out: dict[str, list[Any]], depth: int) -> None:
    t = type(v)
    if t is str or t is int or t is float or v is None or t is bool:  # fast path: scalars dominate
        out.setdefault(key, []).append(v)
    elif depth >= MAX_DEPTH and isinstance(v, (Mapping, list, tuple)):
        out.setdefault(key, []).append(_shallow_text(v))
    elif t is dict or isinstance(v, Mapping):
        flatten(v, key + ".", out, depth + 1)
    elif isinstance(v, (list, tuple)):
        out.setdefault(key, [])
        for item in v:
            _put(key, item, out, depth + 1)
    else:
        out.setdefault(key, []).append(v)


def _shallow_text(v: Any, limit: int = 2000) -> str:
    """Bounded, non-recursive text of a too-deep subtree (reprlib stops at a fixed depth)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 4, limit, limit
    return r.repr(v)[:limit]


@dataclass(slots=True)
class FieldView:
    """Flat, case-insensitive field access for matchers.

    ``raw[key]`` holds the original values (a field may be multi-valued), ``lo[key]`` the
    lower-cased string forms, computed once per event so that thousands of rules can compare
    without re-lowering.
    """

    raw: dict[str, tuple[Any, ...]]
    lo: dict[str, tuple[str, ...]]
    timestamp: float
    _tris: dict[str, tuple[set[str], ...]] = field(default_factory=dict)

    def trigrams(self, key: str) -> tuple[set[str], ...]:
        """Per-value trigram sets of a field, shared by the rule index and multi-literal tests."""
        t = self._tris.get(key)
        if t is None:
            t = tuple({x[i:i + 3] for i in range(len(x) - 2)} for x in self.lo.get(key, ()))
            self._tris[key] = t
        return t

    @classmethod
    def build(cls, ev: SecurityEvent) -> "FieldView":
        flat = flatten(ev.fields)
        for k in _NORMALISED_KEYS:
            v = getattr(ev, k)
            if v is not None and k not in flat:
                flat[k] = [v]
        raw: dict[str, tuple[Any, ...]] = {}
        lo: dict[str, tuple[str, ...]] = {}
        for k, vals in flat.items():
            if len(vals) == 1:
                v = vals[0]
                if v is None:
                    raw[k], lo[k] = (), ()
                else:
                    raw[k] = (v,)
                    lo[k] = (v.lower() if type(v) is str else _lower(v),)
                continue
            present = tuple(v for v in vals if v is not None)
            raw[k] = present
            lo[k] = tuple(_lower(v) for v in present)
        # "*" is the keyword pseudo-field: every value, NUL-separated, so one C substring
        # search answers "does any field contain this keyword".
        lo["*"] = ("\x00".join(x for vals in lo.values() for x in vals),)
        return cls(raw=raw, lo=lo, timestamp=ev.timestamp)


def _lower(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # 4688.0 and 4688 must look alike to equality rules
    return str(v).lower()


def parse_timestamp(value: Any) -> float:
    """Parse epoch numbers or ISO-8601 strings (``Z`` or offset, optional fraction) to epoch seconds.

    Raises ValueError so parsers can turn it into a counted rejection.
    """
    if isinstance(value, bool):
        raise ValueError("boolean timestamp")
    if isinstance(value, (int, float)):
        v = float(value)
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"bad timestamp {value!r}")
        return v / 1000.0 if v > 1e11 else v  # milliseconds since epoch
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"bad timestamp {value!r}")
    s = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Python 3.11 fromisoformat accepts up to 6 fractional digits; Windows gives 7.
    if "." in s:
        head, _, tail = s.partition(".")
        frac = "".join(ch for ch in tail if ch.isdigit())
        rest = tail[len(frac):]
        s = f"{head}.{frac[:6]}{rest}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def merge_tags(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of tag iterables, order preserved (first seen wins)."""
    seen: dict[str, None] = {}
    for g in groups:
        for t in g:
            seen.setdefault(t, None)
    return tuple(seen)


@dataclass(slots=True)
class Alert:
    """A rule firing: a single-event detection or a correlation over several hits.

    ``group`` holds the correlation's group-by values (e.g. ``{"src_ip": "1.2.3.4"}``);
    ``events`` the contributing events (bounded), so downstream graph correlation can link
    entities without re-reading the stream.
    """

    rule_id: str
    title: str
    level: str
    timestamp: float
    kind: str = "detection"  # detection | correlation
    tags: tuple[str, ...] = ()
    event: SecurityEvent | None = None
    group: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    events: list[SecurityEvent] = field(default_factory=list)
    rule_name: str | None = None

    def entity_values(self) -> dict[str, Any]:
        """Normalised entity columns of the alert: its event's, overlaid by the group-by values."""
        out = self.event.normalised() if self.event is not None else {}
        out.update({k: v for k, v in self.group.items() if v is not None})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "title": self.title,
            "level": self.level,
            "timestamp": self.timestamp,
            "kind": self.kind,
            "tags": list(self.tags),
            "group": self.group,
            "count": self.count,
            "entities": self.entity_values(),
        }
