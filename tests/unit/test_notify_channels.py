"""What a channel's refusal is recorded as: a code and a number, never what the far end wrote."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.notify.channels import SmtpChannel, Undelivered, gateway_failure, smtp_failure
from services.notify.messages import Message

ADDRESS = "chair-p01@union.example"
MESSAGE = Message(subject="提醒", text="调解期限将至")


@pytest.mark.parametrize(
    ("reply", "recipient", "code", "permanent"),
    [
        (550, True, "invalid_address", True),
        (553, True, "invalid_address", True),
        (554, False, "bounced", True),
        (451, True, "refused", False),
        (421, False, "refused", False),
    ],
)
def test_smtp_replies_map_to_codes(reply: int, recipient: bool, code: str, permanent: bool) -> None:
    failure = smtp_failure(reply, recipient=recipient)
    assert (failure.code, failure.status, failure.permanent) == (code, reply, permanent)


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (404, "invalid_address", True),
        (410, "invalid_address", True),
        (400, "bounced", True),
        (499, "bounced", True),
        (429, "refused", False),
        (500, "refused", False),
        (503, "refused", False),
    ],
)
def test_gateway_statuses_map_to_codes(status: int, code: str, permanent: bool) -> None:
    failure = gateway_failure(status)
    assert (failure.code, failure.status, failure.permanent) == (code, status, permanent)


class Refusing:
    """An SMTP server that refuses the recipient in words that quote the address."""

    async def handle_RCPT(
        self, _server: Any, _session: Any, _envelope: Any, address: str, _options: Any
    ) -> str:
        return f"550 5.1.1 <{address}>: no such mailbox here"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_refusal_quoting_the_address_is_kept_as_its_code_alone() -> None:
    port = free_port()
    server = Controller(Refusing(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        with pytest.raises(Undelivered) as caught:
            asyncio.run(
                SmtpChannel("127.0.0.1", port, "union@example").send(ADDRESS, MESSAGE, "m-1")
            )
    finally:
        server.stop()
    failure = caught.value
    assert (failure.code, failure.status, failure.permanent) == ("invalid_address", 550, True)
    assert ADDRESS not in str(failure) and "mailbox" not in str(failure)
    assert failure.__cause__ is None and failure.__suppress_context__


def test_a_server_nobody_answers_on_is_unreachable_and_tried_again() -> None:
    channel = SmtpChannel("127.0.0.1", free_port(), "union@example")
    with pytest.raises(Undelivered) as caught:
        asyncio.run(channel.send(ADDRESS, MESSAGE, "m-1"))
    assert (caught.value.code, caught.value.status, caught.value.permanent) == (
        "unreachable",
        None,
        False,
    )
