"""Sending email: over SMTP when LMS_SMTP_HOST is set, otherwise written to the log.

Without SMTP (a laptop, the demo) the message is logged so that whoever runs the
app can pass on a set-password link by hand.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message. Raises smtplib.SMTPException if the server refuses it."""
    config = current_app.config
    host = config.get("LMS_SMTP_HOST")
    if not host:
        log.warning(
            "SMTP is not configured; message for the account follows.\n%s\n\n%s", subject, body
        )
        current_app.extensions.setdefault("lms.outbox", []).append((to, subject, body))
        return
    message = EmailMessage()
    message["From"] = config["LMS_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(host, config["LMS_SMTP_PORT"], timeout=20) as smtp:
        if config["LMS_SMTP_STARTTLS"]:
            smtp.starttls()
        if config.get("LMS_SMTP_USERNAME"):
            smtp.login(config["LMS_SMTP_USERNAME"], config["LMS_SMTP_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("Sent %r", subject)
