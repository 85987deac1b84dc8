"""Secret tokens never reach a log line: redact() and the logging filter that applies it."""

from __future__ import annotations

import logging
import secrets

import pytest

from lms.logs import REDACTED, RedactFilter, add_filter, redact

TOKEN = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/verify/{TOKEN}", "/verify/[redacted]"),
        (f"/password/set/{TOKEN}", "/password/set/[redacted]"),
        (f"/api/v1/certificates/{TOKEN}", "/api/v1/certificates/[redacted]"),
        (
            "/certificates/files/WyJNSVAtTE0iLCJhYiJd.Zx1.sig_-x/MIP-LM-2026-0001.pdf",
            "/certificates/files/[redacted]/MIP-LM-2026-0001.pdf",
        ),
        # What follows the secret segment is kept.
        (f"/verify/{TOKEN}/extra", "/verify/[redacted]/extra"),
        (f"/verify/{TOKEN}?lang=cy", "/verify/[redacted]?lang=cy"),
        (f"/verify/{TOKEN}#top", "/verify/[redacted]#top"),
        # A slash the server decodes before routing reaches the same page.
        (f"/verify%2F{TOKEN}", "/verify%2F[redacted]"),
        (f"/password%2fset%2F{TOKEN}", "/password%2fset%2F[redacted]"),
    ],
)
def test_secret_path_segments(text, expected):
    assert redact(text) == expected


def test_full_urls():
    url = f"https://training.example.org/password/set/{TOKEN}"
    assert redact(url) == "https://training.example.org/password/set/[redacted]"
    assert redact(f"Open http://127.0.0.1:5101/verify/{TOKEN}.") == (
        "Open http://127.0.0.1:5101/verify/[redacted]"
    )


def test_request_line_and_referer_in_an_access_log_line():
    line = (
        f'127.0.0.1 - - [01/Mar/2025:10:00:00 +0000] "GET /verify/{TOKEN} HTTP/1.1" 200 512 '
        f'"https://training.example.org/password/set/{TOKEN}" "Mozilla/5.0"'
    )
    clean = redact(line)
    assert TOKEN not in clean
    assert '"GET /verify/[redacted] HTTP/1.1" 200 512' in clean
    assert '"https://training.example.org/password/set/[redacted]"' in clean
    assert clean.endswith('"Mozilla/5.0"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/login?token={TOKEN}", "/login?token=[redacted]"),
        (f"/x?page=2&reset_token={TOKEN}&sort=name", "/x?page=2&reset_token=[redacted]&sort=name"),
        (f"/x?TOKEN={TOKEN}", "/x?TOKEN=[redacted]"),
        (f"/login?next=%2Fverify%2F{TOKEN}", "/login?next=%2Fverify%2F[redacted]"),
    ],
)
def test_query_tokens(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GET /dashboard HTTP/1.1",
        "/verify",
        "/verify/",
        "/verify/file",  # the upload form's route, not a token
        "POST /verify/file HTTP/1.1",
        "/courses/rep?page=2&tokens=3",
        "/register?q=Okafor",
        "Certificate lookup found nothing (token)",
    ],
)
def test_text_without_secrets_is_unchanged(text):
    assert redact(text) == text


def test_redacting_twice_changes_nothing():
    once = redact(f"GET /verify/{TOKEN}?token={TOKEN} HTTP/1.1")
    assert TOKEN not in once
    assert redact(once) == once
    assert once.count(REDACTED) == 2


def _logger(name: str) -> tuple[logging.Logger, list[str]]:
    """A logger with the filter on its handler, and the formatted lines it wrote."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    add_filter(handler)
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines


def test_filter_redacts_the_formatted_message_with_args():
    logger, lines = _logger("tests.logs.args")
    logger.info("Link sent: %s (for %s)", f"https://h.example/password/set/{TOKEN}", "Ffion")
    logger.info("%(method)s %(path)s", {"method": "GET", "path": f"/verify/{TOKEN}"})
    assert lines == [
        "INFO Link sent: https://h.example/password/set/[redacted] (for Ffion)",
        "INFO GET /verify/[redacted]",
    ]


def test_filter_redacts_tracebacks():
    logger, lines = _logger("tests.logs.exc")
    try:
        raise ValueError(f"no certificate at /verify/{TOKEN}")
    except ValueError:
        logger.exception("Lookup of %s failed", f"/api/v1/certificates/{TOKEN}")
    (line,) = lines
    assert TOKEN not in line
    assert "Lookup of /api/v1/certificates/[redacted] failed" in line
    assert "Traceback (most recent call last)" in line
    assert "ValueError: no certificate at /verify/[redacted]" in line


def test_filter_keeps_records_without_secrets_as_they_are():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Served %s in %d ms", ("/", 3), None)
    assert RedactFilter().filter(record) is True
    assert (record.msg, record.args) == ("Served %s in %d ms", ("/", 3))
    assert record.getMessage() == "Served / in 3 ms"


def test_filter_installed_once():
    handler = logging.NullHandler()
    add_filter(handler)
    add_filter(handler)
    assert len(handler.filters) == 1
