"""Sending email, always through the "mail.send" job, after the transaction that asks for it.

With ``LMS_SMTP_HOST`` set the job sends over SMTP; an SMTP failure is retried with
back-off and, after the last try, shown to administrators. Without SMTP (a laptop, the
demo) the message is written as an ``.eml`` file under ``instance/outbox/`` (readable
by its owner only) and the log gives only its subject and file: bodies carry
set-password links, which are secrets and must not reach logs.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app

from lms.jobs import services as jobs

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str, html: str | None = None) -> None:
    """Queue a message for ``to``: sent once the current transaction commits.

    ``body`` is the plain-text part; ``html``, when given, an HTML alternative of the
    same text. Nothing is sent if the transaction rolls back. Raises
    lms.jobs.services.JobError only for arguments that are not text.
    """
    kwargs = {"to": str(to), "subject": str(subject), "body": str(body)}
    if html is not None:
        kwargs["html"] = str(html)
    jobs.enqueue("mail.send", **kwargs)


def _message(to: str, subject: str, body: str, html: str | None = None) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["LMS_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config["LMS_MAIL_FROM"].rpartition("@")[2] or None)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@jobs.task("mail.send", retries=3, priority=10, scrub=("body", "html"))
def deliver(to: str, subject: str, body: str, html: str | None = None) -> None:
    """The job: send over SMTP, or write to the outbox folder without SMTP.

    Raises smtplib.SMTPException or OSError (the job is retried) when the server
    refuses or cannot be reached.
    """
    config = current_app.config
    message = _message(to, subject, body, html)
    host = config.get("LMS_SMTP_HOST")
    if not host:
        path = write_outbox(message)
        log.warning("SMTP is not configured; wrote %r to %s", subject, path)
        current_app.extensions.setdefault("lms.outbox", []).append((to, subject, body))
        return
    with smtplib.SMTP(host, config["LMS_SMTP_PORT"], timeout=20) as smtp:
        if config["LMS_SMTP_STARTTLS"]:
            smtp.starttls()
        if config.get("LMS_SMTP_USERNAME"):
            smtp.login(config["LMS_SMTP_USERNAME"], config["LMS_SMTP_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("Sent %r", subject)


def outbox_dir() -> Path:
    return Path(current_app.instance_path) / "outbox"


def write_outbox(message: EmailMessage) -> Path:
    """Write ``message`` as a new .eml file in the outbox folder (mode 0600); returns its path."""
    folder = outbox_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bytes(message))
    return path
