"""Entities: which users, hosts, VMs, IPs and processes an event names, as graph node keys.

Shared by the detectors, threat intel and the graph correlator, so one event always maps to
the same nodes whichever path it takes.
"""
from __future__ import annotations

import functools
import ipaddress
from typing import Any

from aiops.security.events import SecurityEvent


HOST_LOCAL_SOURCES = frozenset({"auth", "syslog", "auditd", "sysmon", "windows", "linux"})


_IGNORED_VALUES = frozenset({"", "-", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost", "unknown", "none", "null"})


class AssetMap:
    """IP → host learned from the platform's own flow records (the source IP of a host's flow is the host).

    Resolving an IP to its host is what turns "login from 10.0.0.7" into the pivot edge
    host-0006 → host-0013.
    """

    def __init__(self, static: dict[str, str] | None = None) -> None:
        self.ip_host: dict[str, str] = dict(static or {})

    def learn(self, ev: SecurityEvent) -> None:
        if ev.action == "network_flow" and ev.host and ev.src_ip and ev.source.startswith("novacron"):
            if self.ip_host.get(ev.src_ip) != ev.host:
                self.ip_host[ev.src_ip] = ev.host

    def host_of(self, ip: str | None) -> str | None:
        return self.ip_host.get(ip) if ip else None


def _ok(v: Any) -> bool:
    return v is not None and str(v).lower() not in _IGNORED_VALUES


_PRIVATE_V4_PREFIXES = ("10.", "192.168.", "127.") + tuple(f"172.{i}." for i in range(16, 32))


def is_external(ip: str | None) -> bool:
    """True for globally routable addresses (documentation ranges count as external: they play attackers)."""
    if not ip or not isinstance(ip, str):
        return False
    if ip.startswith(_PRIVATE_V4_PREFIXES) and ip.count(".") == 3:  # the common case, without parsing
        return False
    return _is_external_parsed(ip)


@functools.lru_cache(maxsize=65_536)
def _is_external_parsed(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if a.version == 4 and (str(a).startswith(("192.0.2.", "198.51.100.", "203.0.113."))):
        return True
    return a.is_global


class EntityResolver:
    """Event → entity node keys and directed edges between them."""

    def __init__(self, assets: AssetMap | None = None) -> None:
        self.assets = assets or AssetMap()

    def ip_node(self, ip: str | None) -> str | None:
        if not _ok(ip):
            return None
        h = self.assets.host_of(ip)
        return f"host:{h}" if h else f"ip:{ip}"

    def nodes(self, ev: SecurityEvent) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
        host = f"host:{ev.host}" if _ok(ev.host) else None
        vm = f"vm:{ev.vm_id}" if _ok(ev.vm_id) else None
        src = self.ip_node(ev.src_ip)
        dst = self.ip_node(ev.dst_ip)
        scope = ev.host if (ev.host and ev.source in HOST_LOCAL_SOURCES) else None
        user = None
        if _ok(ev.user):
            user = f"user:{ev.user}@{scope}" if scope else f"user:{ev.user}"
        proc = f"proc:{ev.process}@{ev.host}" if (_ok(ev.process) and ev.host and ev.source in ("sysmon", "windows", "auditd")) else None
        dom = None
        f = ev.fields
        q = f.get("query") or f.get("QueryName") if f else None
        if isinstance(q, str) and _ok(q):
            dom = f"domain:{q.lower().rstrip('.')}"
        asset = vm or host
        label = ev.action or ev.source
        ents: list[str] = []
        edges: list[tuple[str, str, str]] = []
        for n in (src, dst, host, vm, user, proc, dom):
            if n is not None and n not in ents:
                ents.append(n)
        target = dst if dst is not None else asset
        if src is not None and target is not None and src != target:
            edges.append((src, target, label))
        if dst is not None and asset is not None and src is None and dst != asset:
            edges.append((asset, dst, label))
        if vm is not None and host is not None:
            edges.append((vm, host, "runs_on"))
        for n in (user, proc, dom):
            if n is not None and asset is not None:
                edges.append((n, asset, label))
        return tuple(ents), tuple(edges)
