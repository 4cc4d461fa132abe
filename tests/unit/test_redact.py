"""Credentials never reach /healthz, logs or error bodies."""
import logging
import time

import pytest

from aiops.redact import RedactingFilter, install_log_redaction, redact


@pytest.mark.parametrize("raw, shown", [
    ("redis://:s3cret@10.0.0.1:6379/0", "redis://:***@10.0.0.1:6379/0"),
    ("nats://alice:pa:ss@nats:4222", "nats://alice:***@nats:4222"),
    ("Error connecting to rediss://u:p@h:1. refused", "Error connecting to rediss://u:***@h:1. refused"),
    ("s3://b/p?endpoint_override=h&secret_key=AbC&x=1", "s3://b/p?endpoint_override=h&secret_key=***&x=1"),
    ("http://h/x?token=abc#f", "http://h/x?token=***#f"),
    ("redis://127.0.0.1:6379/9", "redis://127.0.0.1:6379/9"),  # no credentials: unchanged
    ("nats://user@host:4222", "nats://user@host:4222"),
])
def test_redact_hides_url_passwords_and_query_secrets(raw, shown):
    assert redact(raw) == shown


def test_redact_is_linear_on_hostile_input():
    for bait in ("://" + "a" * 200_000, "://a:" * 50_000, "?password" * 30_000 + "=", "a:" * 100_000 + "@"):
        t = time.perf_counter()
        redact(bait)
        assert time.perf_counter() - t < 0.5


def test_log_records_and_tracebacks_are_redacted(caplog):
    log = logging.getLogger("aiops.test_redact")
    caplog.handler.addFilter(RedactingFilter())
    try:
        raise ConnectionError("redis://:hunter2@db:6379 refused")
    except ConnectionError:
        log.exception("store %s down", "nats://u:hunter2@n:4222")
    text = caplog.text
    assert "hunter2" not in text and "redis://:***@db" in text and "nats://u:***@n" in text


def test_install_is_idempotent():
    logger = logging.getLogger("aiops.test_redact_install")
    logger.addHandler(logging.NullHandler())
    f1, f2 = install_log_redaction(logger), install_log_redaction(logger)
    assert f1 is f2 and sum(isinstance(f, RedactingFilter) for f in logger.handlers[0].filters) == 1


def test_health_detail_and_error_bodies_are_redacted():
    from actors.platform_service import check_redis
    from aiops.api.errors import domain_error_response
    from aiops.errors import UnavailableError

    ok, detail = check_redis("redis://:hunter2@127.0.0.1:1/0")  # nothing listens on port 1
    assert not ok and "hunter2" not in detail and ":***@127.0.0.1:1" in detail
    body = domain_error_response(UnavailableError("store redis://u:hunter2@h:1 is down")).body.decode()
    assert "hunter2" not in body and "u:***@h" in body
