"""Threat-intelligence indicators (CSV and STIX 2.1 JSON) matched against events on ingest.

Indicators carry source, confidence (0–100), first and last seen and an optional expiry.
Matching is dictionary lookups (exact IPs, domains with parent-domain walk, hashes, URLs)
plus a short list of CIDR networks and regex patterns, so it costs a few microseconds per
event. A hit becomes a correlator :class:`Signal`. Its confidence is ``confidence/100``, halved when the
indicator has not been seen for ``stale_after_days`` (how much the source vouches for it now).
On the detectors' ``1 − p`` scale the signal scores ``0.99 + 0.0099 × confidence``: touching any
listed indicator is at least a 1-in-100 event for benign traffic, a fully trusted one ~1 in 10,000,
so even a weak indicator joins live suspicious activity and only a near-certain one raises an
incident alone. The raw confidence feeds the incident's entity-risk term.
"""
from __future__ import annotations

import csv
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from aiops.patterns import PatternError, bounded, linear
from aiops.security.config import SecurityConfig
from aiops.security.correlation.entities import EntityResolver
from aiops.security.correlation.signals import Signal, tactics_from_tags
from aiops.security.events import SecurityEvent, parse_timestamp

INDICATOR_TYPES = ("ip", "cidr", "domain", "url", "md5", "sha1", "sha256", "pattern")
_HASH_LEN = {32: "md5", 40: "sha1", 64: "sha256"}
_STIX_CMP = linear(r"([a-z0-9-]+):((?:[\w-]+|'[^']+')(?:\.(?:[\w-]+|'[^']+'))*)\s*(=|MATCHES|LIKE|ISSUBSET)\s*'((?:[^'\\]|\\.)*)'", re.I)
_STIX_COMPOUND = linear(r"\bAND\b|\bFOLLOWEDBY\b|\bWITHIN\b", re.I)


@dataclass(slots=True)
class Indicator:
    type: str
    value: str
    source: str = "unknown"
    confidence: int = 50
    first_seen: float | None = None
    last_seen: float | None = None
    valid_until: float | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    hits: int = 0
    _rx: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "value": self.value, "source": self.source, "confidence": self.confidence,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "valid_until": self.valid_until,
                "description": self.description, "tags": list(self.tags), "hits": self.hits}


def _ts(v: Any) -> float | None:
    if v in (None, ""):
        return None
    try:
        return parse_timestamp(v)
    except ValueError:
        return None


def _norm_type(t: str, value: str) -> str:
    t = t.strip().lower().replace("-", "").replace("_", "")
    alias = {"ip": "ip", "ipv4": "ip", "ipv6": "ip", "ipv4addr": "ip", "ipv6addr": "ip", "ipaddress": "ip",
             "cidr": "cidr", "network": "cidr", "domain": "domain", "domainname": "domain", "hostname": "domain",
             "fqdn": "domain", "url": "url", "uri": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256",
             "hash": "hash", "filehash": "hash", "pattern": "pattern", "regex": "pattern"}
    k = alias.get(t)
    if k is None:
        raise ValueError(f"unknown indicator type {t!r}")
    if k == "hash":
        k = _HASH_LEN.get(len(value.strip()), "")
        if not k:
            raise ValueError(f"hash of unexpected length {len(value.strip())}")
    if k == "ip" and "/" in value:
        k = "cidr"
    return k


def load_csv(path: Path | str, default_source: str | None = None) -> tuple[list[Indicator], list[str]]:
    """CSV with a header: type,value[,source,confidence,first_seen,last_seen,valid_until,description,tags].

    Returns (indicators, errors); a bad row is reported, never fatal.
    """
    path = Path(path)
    out: list[Indicator] = []
    errors: list[str] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            try:
                value = (row.get("value") or "").strip()
                if not value:
                    raise ValueError("empty value")
                typ = _norm_type(row.get("type") or "", value)
                conf = int(float(row.get("confidence") or 50))
                if not 0 <= conf <= 100:
                    raise ValueError(f"confidence {conf} outside 0..100")
                out.append(Indicator(type=typ, value=value, source=(row.get("source") or default_source or path.name).strip(),
                                     confidence=conf, first_seen=_ts(row.get("first_seen")), last_seen=_ts(row.get("last_seen")),
                                     valid_until=_ts(row.get("valid_until")), description=(row.get("description") or "").strip(),
                                     tags=tuple(t.strip() for t in (row.get("tags") or "").replace(";", ",").split(",") if t.strip())))
            except (ValueError, TypeError) as exc:
                errors.append(f"{path.name}:{n}: {exc}")
    return out, errors


def _stix_pattern(pattern: str) -> tuple[list[tuple[str, str]], str | None]:
    """Indicators from a STIX pattern of OR-ed comparisons; AND / sequences are not point indicators."""
    if _STIX_COMPOUND.search(pattern):
        return [], "compound pattern (AND / FOLLOWEDBY) not supported as a point indicator"
    out: list[tuple[str, str]] = []
    for obj, prop, op, val in _STIX_CMP.findall(pattern):
        val = val.replace("\\'", "'").replace("\\\\", "\\")
        obj = obj.lower()
        op = op.upper()
        if op == "MATCHES":
            out.append(("pattern", val))
        elif obj in ("ipv4-addr", "ipv6-addr"):
            out.append(("cidr" if ("/" in val or op == "ISSUBSET") else "ip", val))
        elif obj == "domain-name":
            out.append(("domain", val))
        elif obj == "url":
            out.append(("url", val))
        elif obj == "file" and "hashes" in prop.lower():
            h = prop.lower().replace("'", "").replace("-", "")
            kind = "md5" if "md5" in h else "sha1" if "sha1" in h else "sha256" if "sha256" in h else None
            if kind:
                out.append((kind, val))
    if not out:
        return [], f"no supported comparison in {pattern[:80]!r}"
    return out, None


def load_stix(path: Path | str) -> tuple[list[Indicator], list[str]]:
    """STIX 2.1 bundle (or list of objects): ``indicator`` objects with ``pattern_type: stix``.

    source = the creating identity's name (or ``created_by_ref``); first/last seen from
    ``valid_from``/``modified`` widened by any ``sighting`` of the indicator.
    """
    path = Path(path)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    objs = data.get("objects", []) if isinstance(data, dict) else data
    identities = {o.get("id"): o.get("name") for o in objs if isinstance(o, dict) and o.get("type") == "identity"}
    sightings: dict[str, tuple[float | None, float | None]] = {}
    for o in objs:
        if isinstance(o, dict) and o.get("type") == "sighting":
            ref = o.get("sighting_of_ref")
            f, last = _ts(o.get("first_seen")), _ts(o.get("last_seen"))
            pf, pl = sightings.get(ref, (None, None))
            sightings[ref] = (min(x for x in (f, pf) if x is not None) if (f or pf) else None,
                              max(x for x in (last, pl) if x is not None) if (last or pl) else None)
    out: list[Indicator] = []
    errors: list[str] = []
    for o in objs:
        if not isinstance(o, dict) or o.get("type") != "indicator":
            continue
        if o.get("pattern_type", "stix") != "stix":
            errors.append(f"{o.get('id')}: pattern_type {o.get('pattern_type')!r} not supported")
            continue
        if o.get("revoked"):
            continue
        pairs, err = _stix_pattern(str(o.get("pattern", "")))
        if err:
            errors.append(f"{o.get('id')}: {err}")
            continue
        sf, sl = sightings.get(o.get("id"), (None, None))
        first = min(x for x in (_ts(o.get("valid_from")), sf) if x is not None) if (o.get("valid_from") or sf) else _ts(o.get("created"))
        last = max(x for x in (_ts(o.get("modified")), sl) if x is not None) if (o.get("modified") or sl) else first
        src = identities.get(o.get("created_by_ref")) or o.get("created_by_ref") or path.name
        conf = o.get("confidence", 50)
        if not isinstance(conf, int) or isinstance(conf, bool) or not 0 <= conf <= 100:
            errors.append(f"{o.get('id')}: confidence {str(conf)[:20]} outside 0..100")
            continue
        tags = tuple(str(k.get("phase_name")) for k in o.get("kill_chain_phases", []) if isinstance(k, dict))
        for typ, val in pairs:
            out.append(Indicator(type=typ, value=val, source=str(src), confidence=conf,
                                 first_seen=first, last_seen=last, valid_until=_ts(o.get("valid_until")),
                                 description=str(o.get("name") or o.get("description") or ""),
                                 tags=tuple(f"attack.{t}" for t in tags)))
    return out, errors


_DOMAIN_FIELDS = ("query", "queryname", "host", "domain", "server_name", "destinationhostname")
_URL_FIELDS = ("uri", "url", "request_url", "requesturl")
_HASH_FIELDS = ("hashes", "hash", "md5", "sha1", "sha256", "imphash")
_TEXT_FIELDS = ("commandline", "command", "uri", "url", "useragent", "user_agent", "message")


class ThreatIntel:
    """Indicator store with O(1) matching on the normalised fields an event carries."""

    def __init__(self, indicators: Iterable[Indicator] = (), stale_after_days: float = 90.0) -> None:
        self.stale_s = stale_after_days * 86_400.0
        self.exact: dict[tuple[str, str], Indicator] = {}
        self.cidrs: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Indicator]] = []
        self.patterns: list[Indicator] = []
        self.errors: list[str] = []
        self.loaded_at: float | None = None
        self.hits = 0
        for i in indicators:
            self.add(i)

    def add(self, ind: Indicator) -> None:
        v = ind.value.strip()
        if ind.type == "cidr":
            try:
                self.cidrs.append((ipaddress.ip_network(v, strict=False), ind))
            except ValueError as exc:
                self.errors.append(f"{v}: {exc}")
        elif ind.type == "pattern":
            try:  # RE2 only: a pattern needing backtracking is refused and listed in errors (aiops.patterns)
                ind._rx = bounded(v, re.I)
                self.patterns.append(ind)
            except PatternError as exc:
                self.errors.append(f"{v}: bad regex {exc}")
        else:
            key_type = "hash" if ind.type in ("md5", "sha1", "sha256") else ind.type
            self.exact[(key_type, v.lower().rstrip(".") if key_type == "domain" else v.lower())] = ind

    def load_files(self, paths: Iterable[Path | str]) -> int:
        n = 0
        for p in paths:
            p = Path(p)
            inds, errs = load_stix(p) if p.suffix.lower() == ".json" else load_csv(p)
            self.errors.extend(errs)
            for i in inds:
                self.add(i)
            n += len(inds)
        return n

    def __len__(self) -> int:
        return len(self.exact) + len(self.cidrs) + len(self.patterns)

    def _ip(self, ip: str | None) -> Indicator | None:
        if not ip:
            return None
        hit = self.exact.get(("ip", ip.lower()))
        if hit is not None or not self.cidrs:
            return hit
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, ind in self.cidrs:
            if a.version == net.version and a in net:
                return ind
        return None

    def match(self, ev: SecurityEvent) -> list[tuple[Indicator, str, str]]:
        """(indicator, field, observed value) for each indicator the event touches."""
        out: list[tuple[Indicator, str, str]] = []
        for fname in ("src_ip", "dst_ip"):
            v = getattr(ev, fname)
            ind = self._ip(v)
            if ind is not None:
                out.append((ind, fname, v))
        f = ev.fields
        if f and (len(self.exact) > 0 or self.patterns):
            lower = {str(k).lower(): v for k, v in f.items() if isinstance(v, (str, int))}
            for k in _DOMAIN_FIELDS:
                v = lower.get(k)
                if isinstance(v, str) and v:
                    d = v.lower().rstrip(".")
                    while d:
                        ind = self.exact.get(("domain", d))
                        if ind is not None:
                            out.append((ind, k, v))
                            break
                        d = d.partition(".")[2]
            for k in _URL_FIELDS:
                v = lower.get(k)
                if isinstance(v, str) and (ind := self.exact.get(("url", v.lower()))) is not None:
                    out.append((ind, k, v))
            for k in _HASH_FIELDS:
                v = lower.get(k)
                if isinstance(v, str) and v:
                    for part in re.split(r"[,;\s]+", v):
                        h = part.partition("=")[2] if "=" in part else part
                        if (ind := self.exact.get(("hash", h.lower()))) is not None:
                            out.append((ind, k, h))
            for ind in self.patterns:
                for k in _TEXT_FIELDS:
                    v = lower.get(k)
                    if isinstance(v, str) and ind._rx.search(v):
                        out.append((ind, k, v[:200]))
                        break
        return [(i, k, v) for i, k, v in out if i.valid_until is None or i.valid_until >= ev.timestamp]

    def score(self, ind: Indicator, ts: float) -> float:
        s = ind.confidence / 100.0
        if ind.last_seen is not None and ts - ind.last_seen > self.stale_s:
            s *= 0.5
        return s

    def signals(self, ev: SecurityEvent, resolver: EntityResolver) -> list[Signal]:
        hits = self.match(ev)
        if not hits:
            return []
        ents, edges = resolver.nodes(ev)
        out = []
        for ind, fname, val in hits:
            ind.hits += 1
            self.hits += 1
            tac, tech = tactics_from_tags(ind.tags)
            node = f"ip:{val}" if fname in ("src_ip", "dst_ip") else f"{ind.type}:{val}"
            conf = self.score(ind, ev.timestamp)
            s = 0.99 + 0.0099 * conf  # on the detectors' 1 − p scale (see module docstring)
            out.append(Signal(ts=ev.timestamp, kind="intel", name=f"intel_{ind.type}", score=s,
                              entities=ents if node in ents else ents + (node,), edges=edges, tactics=tac, techniques=tech,
                              severity="critical" if conf >= 0.9 else "high" if conf >= 0.7 else "medium",
                              summary=f"{fname}={val} matches {ind.type} indicator from {ind.source} (confidence {ind.confidence})",
                              detail={"indicator": ind.to_dict(), "field": fname, "confidence": conf}))
        return out

    def indicators(self) -> list[Indicator]:
        return list(self.exact.values()) + [i for _, i in self.cidrs] + self.patterns


def load_threat_intel(cfg: SecurityConfig) -> ThreatIntel:
    """Indicators from the configured files (its ``errors`` list the lines it skipped)."""
    ti = cfg.threat_intel
    intel = ThreatIntel(stale_after_days=ti.stale_after_days)
    intel.load_files(ti.files())
    return intel
