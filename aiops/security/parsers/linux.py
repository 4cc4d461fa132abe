"""Linux text logs → SecurityEvent: sshd / auth syslog, auditd, and Azure-collected syslog rows.

sshd and PAM lines are classified into a small action vocabulary (ssh_login success/failure,
ssh_invalid_user, pam_auth, sudo, su, ...) because brute-force correlation counts those, not
free text. auditd keeps one event per record (Sigma auditd rules are written per record,
e.g. ``type: EXECVE`` with ``a0``/``a1``) but each record is enriched with its SYSCALL's
exe/comm/uid/pid so EXECVE records also serve Linux ``process_creation`` rules.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from aiops.patterns import own
from aiops.security.events import LogSource, SecurityEvent, parse_timestamp
from aiops.security.parsers.base import ParseError, require_mapping
from aiops.telemetry.sshd import match_auth

# ----------------------------------------------------------------------------- syslog / sshd

# Line headers: anchored, every quantifier stops at a character its class excludes, and no variable
# repeat nests in another (aiops.patterns.own checks it), so Python's engine runs them in linear time
# (tests/unit/test_patterns_bait.py). Message rules are the shared set in aiops.telemetry.sshd.

_BSD = own(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<time>\d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s+"
    r"(?P<prog>[^\s:\[]+?)(?:\((?P<sub>[^()]*)\))?(?:\[(?P<pid>\d+)\])?(?:\s+[\d.]+)?:\s?(?P<msg>.*)$"
)
_ISO = own(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<host>\S+)\s+"
    r"(?P<prog>[^\s:\[]+?)(?:\((?P<sub>[^()]*)\))?(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
)
_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}

# sshd / PAM / sudo / su messages are classified by the shared patterns in aiops.telemetry.sshd.

_AUTH_PROGRAMS = frozenset({"sshd", "sudo", "su", "login", "passwd", "systemd-logind", "cron", "crond", "ftpd", "vsftpd", "useradd", "usermod", "groupadd", "chpasswd"})


class AuthSyslogParser:
    """sshd / auth.log / generic syslog lines; BSD timestamps lack a year, so it is a parameter."""

    def __init__(self, year: int | None = None) -> None:
        self.year = year or datetime.now(timezone.utc).year

    def __call__(self, rec: Any) -> SecurityEvent | None:
        if not isinstance(rec, str):
            raise ParseError("not_a_line", type(rec).__name__)
        line = rec.rstrip("\r\n")
        if not line.strip():
            return None
        m = _BSD.match(line)
        if m:
            mon = _MONTHS.get(m["mon"])
            if mon is None:
                raise ParseError("bad_timestamp", m["mon"])
            try:
                hh, mm, ss = (int(x) for x in m["time"].split(":"))
                ts = datetime(self.year, mon, int(m["day"]), hh, mm, ss, tzinfo=timezone.utc).timestamp()
            except ValueError as exc:
                raise ParseError("bad_timestamp", str(exc)) from None
        else:
            m = _ISO.match(line)
            if not m:
                raise ParseError("not_syslog")
            try:
                ts = parse_timestamp(m["ts"])
            except ValueError as exc:
                raise ParseError("bad_timestamp", str(exc)) from None
        return _auth_event(ts, m["host"], m["prog"], m["sub"], m["pid"], m["msg"], line)


def _auth_event(ts: float, host: str, prog: str, sub: str | None, pid: str | None, msg: str, raw: str) -> SecurityEvent:
    prog_l = prog.lower()
    fields: dict[str, Any] = {"hostname": host, "program": prog, "pid": int(pid) if pid else None, "message": msg}
    if sub:
        fields["facility_detail"] = sub
    action = outcome = user = ip = None
    hit = match_auth(msg)
    if hit is not None:
        action, outcome = hit.action, hit.outcome
        g = hit.groups
        user = g.get("user") or None
        ip = g.get("ip") or None
        if g.get("port"):
            fields["src_port"] = int(g["port"])
        if g.get("method"):
            fields["auth_method"] = g["method"]
        if g.get("cmd"):
            fields["command"] = g["cmd"]
    if action is None and "check pass; user unknown" in msg:
        action, outcome = "pam_check_pass", "failure"
    service = prog_l if prog_l in _AUTH_PROGRAMS else "syslog"
    return SecurityEvent(
        timestamp=ts,
        source="auth" if service != "syslog" else "syslog",
        logsource=LogSource(product="linux", service=service),
        host=host,
        user=user,
        src_ip=ip,
        process=prog,
        action=action,
        outcome=outcome,
        fields=fields,
        raw=raw,
    )


# ----------------------------------------------------------------------------- auditd

_AUDIT = own(r"^(?:node=(?P<node>\S+)\s+)?type=(?P<type>\S+)\s+msg=audit\((?P<ts>\d+(?:\.\d+)?):(?P<serial>\d+)\):\s?(?P<body>.*)$")
# a key starts only where no key character precedes it, so each run is scanned once (linear)
_KV = own(r"""(?<![\w-])(?P<k>[A-Za-z_][\w-]*)=(?P<v>"[^"]*"|'[^']*'|\S*)""")
_AUOMS = own(r"type=(?P<type>\S+)\s+audit\((?P<ts>\d+(?:\.\d+)?):(?P<serial>\d+)\):\s?(?P<body>.*)$", re.S)
_CONTEXT_KEYS = ("exe", "comm", "pid", "ppid", "uid", "auid", "euid", "success", "syscall", "tty", "ses")


def _kv(body: str, execve: bool = False) -> dict[str, str]:
    """key=value pairs; quoted values are unquoted, unquoted EXECVE arguments are hex-decoded."""
    out: dict[str, str] = {}
    for m in _KV.finditer(body):
        k, v = m["k"], m["v"]
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        elif execve and k[:1] == "a" and k[1:].isdigit():
            v = _unhex(v)
        out.setdefault(k, v)
    return out


def _unhex(v: str) -> str:
    # auditd hex-encodes EXECVE arguments that contain spaces or quotes.
    if len(v) >= 2 and len(v) % 2 == 0 and all(c in "0123456789ABCDEF" for c in v):
        try:
            return bytes.fromhex(v).decode("utf-8", "replace")
        except ValueError:
            return v
    return v


class AuditdParser:
    """Stateful: records of one audit event share ``msg=audit(ts:serial)``.

    A group is released (as a list of per-record events) when the next serial starts, and
    by :meth:`flush` at end of input.
    """

    def __init__(self) -> None:
        self._serial: str | None = None
        self._records: list[tuple[str, float, dict[str, str], str, str | None]] = []

    def __call__(self, rec: Any) -> list[SecurityEvent]:
        if not isinstance(rec, str):
            raise ParseError("not_a_line", type(rec).__name__)
        line = rec.strip()
        if not line:
            return []
        m = _AUDIT.match(line)
        if not m:
            raise ParseError("not_auditd")
        out: list[SecurityEvent] = []
        if self._serial is not None and m["serial"] != self._serial:
            out = self.flush()
        self._serial = m["serial"]
        self._records.append((m["type"], float(m["ts"]), _kv(m["body"], m["type"] == "EXECVE"), line, m["node"]))
        return out

    def flush(self) -> list[SecurityEvent]:
        recs, self._records, self._serial = self._records, [], None
        context: dict[str, str] = {}
        for typ, _, kv, _, _ in recs:
            if typ == "SYSCALL":
                context = {k: kv[k] for k in _CONTEXT_KEYS if k in kv}
        return [_audit_event(typ, ts, kv, raw, node, context) for typ, ts, kv, raw, node in recs]


def _audit_event(typ: str, ts: float, kv: dict[str, str], raw: str, node: str | None, context: dict[str, str]) -> SecurityEvent:
    fields: dict[str, Any] = {"type": typ, **kv}
    for k, v in context.items():
        fields.setdefault(k, v)
    cats: tuple[str, ...] = ()
    if typ == "EXECVE":
        argc = int(kv.get("argc", "0") or 0) if kv.get("argc", "").isdigit() else 0
        args = [kv[f"a{i}"] for i in range(argc) if f"a{i}" in kv]
        fields["CommandLine"] = " ".join(args)
        if "exe" in context:
            fields["Image"] = context["exe"]
        cats = ("process_creation",)
    user = kv.get("acct") or kv.get("auid") or context.get("auid")
    outcome = None
    res = kv.get("res") or context.get("success")
    if res is not None:
        outcome = "success" if res in ("success", "yes", "1") else "failure"
    return SecurityEvent(
        timestamp=ts,
        source="auditd",
        logsource=LogSource(product="linux", service="auditd", categories=cats),
        host=node or kv.get("hostname") or None,
        user=user if user not in (None, "", "4294967295", "unset") else None,
        src_ip=kv.get("addr") if kv.get("addr") not in (None, "?", "") else None,
        process=context.get("exe") or kv.get("exe"),
        action=typ.lower(),
        outcome=outcome,
        fields=fields,
        raw=raw,
    )


# ----------------------------------------------------------------------------- Azure syslog rows

def parse_azure_syslog(rec: Any) -> SecurityEvent | None:
    """Azure Monitor Syslog rows: Sysmon-for-Linux XML or AUOMS audit records in ``SyslogMessage``."""
    from aiops.security.parsers.windows import parse_event_xml

    obj = require_mapping(rec)
    msg = obj.get("SyslogMessage")
    if not isinstance(msg, str) or not msg:
        raise ParseError("missing_syslog_message")
    if msg.lstrip().startswith("<Event"):
        if not msg.rstrip().endswith("</Event>"):
            raise ParseError("truncated_event_xml", f"{len(msg)} chars")  # syslog transports cut long records
        ev = parse_event_xml(msg, product="linux")
        ev.host = ev.host or obj.get("Computer")
        return ev
    if msg.startswith("type="):
        m = _AUOMS.match(msg)
        if not m:
            raise ParseError("bad_auoms_record")
        typ = m["type"]
        kv = _kv(m["body"], typ.endswith("EXECVE"))
        ctx = {k: kv[k] for k in _CONTEXT_KEYS if k in kv}
        ev = _audit_event(typ, float(m["ts"]), kv, msg, obj.get("Computer"), ctx)
        if typ.endswith("EXECVE") and "cmdline" in kv:
            ev.fields["CommandLine"] = kv["cmdline"]
            ev.fields.setdefault("Image", kv.get("exe", ""))
            ev.logsource = LogSource(product="linux", service="auditd", categories=("process_creation",))
        return ev
    try:
        ts = parse_timestamp(obj.get("EventTime") or obj.get("TimeGenerated"))
    except ValueError as exc:
        raise ParseError("bad_timestamp", str(exc)) from None
    prog = str(obj.get("ProcessName") or "syslog")
    return _auth_event(ts, str(obj.get("HostName") or obj.get("Computer") or ""), prog, None, None, msg, msg)
