"""The channels a message can take, behind one interface: e-mail over SMTP, an SMS/WeCom gateway."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol

import httpx

from contracts.notification import FailureCode
from services.notify.messages import Message

TIMEOUT_S = 10.0
# Answers by which a gateway says it knows no such recipient.
UNKNOWN_RECIPIENT = frozenset({404, 410})


class Undelivered(Exception):
    """The channel did not take the message; `permanent` when trying again cannot help.

    It carries only a code and the far end's numeric answer: what the far end wrote can quote
    the address, so it is never kept.
    """

    def __init__(self, code: FailureCode, status: int | None = None, *, permanent: bool) -> None:
        super().__init__(code if status is None else f"{code} {status}")
        self.code, self.status, self.permanent = code, status, permanent


def smtp_failure(code: int, *, recipient: bool) -> Undelivered:
    """What an SMTP reply code means: 5xx for good (an unknown recipient or a bounce), 4xx not."""
    if code >= 500:
        return Undelivered("invalid_address" if recipient else "bounced", code, permanent=True)
    return Undelivered("refused", code, permanent=False)


def gateway_failure(status: int) -> Undelivered:
    """What a gateway's HTTP status means: a 4xx other than 429 for good, anything else not."""
    if status in UNKNOWN_RECIPIENT:
        return Undelivered("invalid_address", status, permanent=True)
    if 400 <= status < 500 and status != 429:
        return Undelivered("bounced", status, permanent=True)
    return Undelivered("refused", status, permanent=False)


class Channel(Protocol):
    """Hands one message to one address, or raises Undelivered."""

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Send the message; the id lets the far end tell a repeat from a new message."""


class SmtpChannel:
    """E-mail through an SMTP server."""

    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Send one e-mail; what its answer means is `smtp_failure`'s."""
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, address, message.subject
        mail["Message-ID"] = f"<{message_id}@taizhang>"
        mail.set_content(message.text)
        await asyncio.to_thread(self._deliver, mail)

    def _deliver(self, mail: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise smtp_failure(codes[0], recipient=True) from None
        except smtplib.SMTPResponseException as exc:
            raise smtp_failure(exc.smtp_code, recipient=False) from None
        except TimeoutError:
            raise Undelivered("timeout", permanent=False) from None
        except smtplib.SMTPServerDisconnected:
            raise Undelivered("unreachable", permanent=False) from None
        except smtplib.SMTPException:  # an OSError too: caught before the socket's own
            raise Undelivered("other", permanent=False) from None
        except OSError:
            raise Undelivered("unreachable", permanent=False) from None


class GatewayChannel:
    """Text messages (SMS or WeCom) through an HTTP gateway."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Post one text; what its answer means is `gateway_failure`'s."""
        body = {"channel": self.channel, "to": address, "text": message.text, "id": message_id}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise Undelivered("timeout", permanent=False) from None
        except httpx.TransportError:
            raise Undelivered("unreachable", permanent=False) from None
        except httpx.HTTPError:
            raise Undelivered("other", permanent=False) from None
        if not response.is_success:
            raise gateway_failure(response.status_code)
