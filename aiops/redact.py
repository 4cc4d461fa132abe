"""Credentials out of anything shown: `/healthz` details, log records and error messages.

Service URLs may carry `user:password@` (redis://:secret@host, nats://u:p@host) and query secrets
(`?password=`), and HTTP credentials appear as `Bearer <token>` / `Basic <b64>` (an Authorization header
quoted in an error or a log line); whatever prints a URL, a header or an exception that may quote one passes
it through `redact` first. Every pattern starts at a literal (`://`, `?`/`&`, the scheme word) and its run
stops at the next delimiter, so they run in linear time on any input.
"""
from __future__ import annotations

import logging
import re

__all__ = ["REDACTED", "redact", "RedactingFilter", "install_log_redaction"]

REDACTED = "***"
_USERINFO = re.compile(r"://([^/@\s:]*):([^/@\s]*)@")
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pass|pwd|token|secret|access_key|secret_key|auth)=)[^&#\s]*",
                           re.IGNORECASE)
# A bearer token in any case; Basic only as the header writes it (capital B, base64), so prose keeps "basic".
_HTTP_CREDENTIAL = re.compile(r"\b((?i:bearer)|Basic)(\s+)(?:[A-Za-z0-9._~+/-]+=*)")


def redact(text: object) -> str:
    """`text` as a string with URL passwords, query secrets and bearer/basic credentials replaced by ***."""
    s = str(text)
    if "://" in s:
        s = _USERINFO.sub(lambda m: f"://{m.group(1)}:{REDACTED}@", s)
    if "=" in s:
        s = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, s)
    s = _HTTP_CREDENTIAL.sub(lambda m: m.group(1) + m.group(2) + REDACTED, s)
    return s


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (arguments and exception text included) through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg, record.args = redact(message), None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add one RedactingFilter to `logger`'s handlers (the root logger's by default), idempotently;
    a handler filter sees the records every child logger propagates."""
    target = logger or logging.getLogger()
    if not target.handlers:
        logging.basicConfig(level=logging.INFO)
    flt = next((f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)), RedactingFilter())
    for handler in target.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt
