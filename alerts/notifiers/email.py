"""Email over SMTP (aiosmtplib): text and HTML parts, STARTTLS or implicit TLS, login."""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.escape import header_value
from wirewatch.alerts.records import Alert
from wirewatch.alerts.render import email_bodies, email_subject


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send mail; `security` is "starttls", "tls" or "none"."""

    host: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "wirewatch@localhost"
    timeout: float = 30.0
    ca_file: str | None = None  # trust this CA (e.g. a private relay's); default: system CAs


# What make_msgid writes (and the ledger keeps); anything else never reaches a header.
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>")

def plain_address(value: str) -> Address:
    """An address from configuration, refused if it could carry anything but one address."""
    cleaned = header_value(value, limit=320)
    local, _, domain = cleaned.rpartition("@")
    if cleaned != value.strip() or not local or not domain or any(c in cleaned for c in ",;<>\""):
        raise ValueError(f"not a single plain e-mail address: {value!r}")
    try:
        return Address(addr_spec=f"{local}@{domain}")
    except HeaderParseError as exc:  # "@@x", "a@b." ...: not a ValueError of its own
        raise ValueError(f"not a single plain e-mail address: {value!r}: {exc}") from exc


def build_message(alert: Alert, sender: str, recipients: list[str],
                  dashboard_url: str | None = None, thread: str | None = None) -> EmailMessage:
    """The e-mail for an alert; the subject is the only header feed text reaches, sanitised.
    An update names the first alert's Message-ID (`thread`) so mail clients thread it."""
    text, html_body = email_bodies(alert, dashboard_url)
    message = EmailMessage()
    message["Subject"] = email_subject(alert)
    message["From"] = plain_address(sender)
    message["To"] = [plain_address(r) for r in recipients]
    message["Date"] = format_datetime(alert.created_at)
    message["Message-ID"] = make_msgid(idstring=alert.alert_id[:16], domain="wirewatch")
    message["X-Wirewatch-Alert-Id"] = alert.alert_id
    if thread and _MESSAGE_ID.fullmatch(thread):
        message["In-Reply-To"] = thread
        message["References"] = thread
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    return message


class EmailNotifier:
    """Sends one message per alert; SMTP 4xx and network trouble retry, 5xx does not."""

    def __init__(self, name: str, server: SmtpServer, recipients: list[str], *,
                 dashboard_url: str | None = None) -> None:
        self.name, self.server, self.dashboard_url = name, server, dashboard_url
        self.recipients = recipients
        for recipient in recipients:
            plain_address(recipient)  # fail at start-up, not at the first alert
        self._tls = ssl.create_default_context(cafile=server.ca_file)

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        message = build_message(alert, self.server.sender, self.recipients, self.dashboard_url,
                                thread)
        server = self.server
        try:
            await aiosmtplib.send(
                message, hostname=server.host, port=server.port, username=server.username,
                password=server.password, use_tls=server.security == "tls",
                start_tls=server.security == "starttls", tls_context=self._tls,
                timeout=server.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            temporary = all(400 <= code < 500 for code in codes)
            raise NotifierError(f"{self.name}: recipients refused: {exc}", retryable=temporary,
                                reason=f"smtp_{codes[0] if codes else 'rcpt'}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise NotifierError(f"{self.name}: SMTP {exc.code} {exc.message}",
                                retryable=400 <= exc.code < 500,
                                reason=f"smtp_{exc.code}") from exc
        except (aiosmtplib.SMTPTimeoutError, TimeoutError, asyncio.TimeoutError) as exc:
            raise NotifierError(f"{self.name}: SMTP server did not answer in time",
                                retryable=True, reason="timeout") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise NotifierError(f"{self.name}: {type(exc).__name__}: {exc}", retryable=True,
                                reason="connection") from exc
        return str(message["Message-ID"])
