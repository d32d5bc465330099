"""The channels a message can take, behind one interface: e-mail over SMTP, an SMS/WeCom gateway."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol

import httpx

from services.notify.messages import Message

TIMEOUT_S = 10.0


class Undelivered(Exception):
    """The channel did not take the message; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason[:200], permanent


class Channel(Protocol):
    """Hands one message to one address, or raises Undelivered."""

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Send the message; the id lets the far end tell a repeat from a new message."""


class SmtpChannel:
    """E-mail through an SMTP server."""

    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Send one e-mail; a 5xx answer is permanent, anything else is tried again."""
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
            raise Undelivered(f"smtp {codes[0]}", permanent=codes[0] >= 500) from None
        except smtplib.SMTPResponseException as exc:
            raise Undelivered(f"smtp {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Undelivered(f"smtp unreachable: {type(exc).__name__}", permanent=False) from None


class GatewayChannel:
    """Text messages (SMS or WeCom) through an HTTP gateway."""

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel

    async def send(self, address: str, message: Message, message_id: str) -> None:
        """Post one text; a 4xx other than 429 is permanent, anything else is tried again."""
        body = {"channel": self.channel, "to": address, "text": message.text, "id": message_id}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise Undelivered(
                f"gateway unreachable: {type(exc).__name__}", permanent=False
            ) from None
        if response.is_success:
            return
        status = response.status_code
        raise Undelivered(f"gateway {status}", permanent=400 <= status < 500 and status != 429)
