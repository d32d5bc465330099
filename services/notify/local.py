"""The local SMTP server and recording gateway of development and tests: they keep what came."""

from __future__ import annotations

import logging
import sqlite3
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from contracts.envelope import format_ts, now_utc

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    message_id TEXT NOT NULL
);
"""
# The server's own log names peers and envelopes: only its warnings are kept.
logging.getLogger("mail.log").setLevel(logging.WARNING)
# What the pages show at most, newest first.
SHOWN = 500


class Received:
    """What the local mailbox and gateway received, in a SQLite file that outlives restarts."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._db.row_factory = sqlite3.Row

    def keep(self, kind: str, recipient: str, subject: str, text: str, message_id: str) -> None:
        """Keep one message as it arrived."""
        with self._lock:
            self._db.execute(
                "INSERT INTO received (kind, at, recipient, subject, text, message_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, format_ts(now_utc()), recipient, subject, text, message_id),
            )

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Return what arrived of one kind (mail, sms, wecom), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM received WHERE kind = ? ORDER BY id DESC LIMIT ?", (kind, SHOWN)
            ).fetchall()
        return [dict(r) for r in rows]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class MailHandler:
    """Keeps each e-mail the local SMTP server is given."""

    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        """Accept one message."""
        mail = message_from_bytes(envelope.content, policy=policy.default)
        body = mail.get_body(preferencelist=("plain",))
        text = body.get_content().strip() if body is not None else ""
        for rcpt in envelope.rcpt_tos:
            self.received.keep(
                "mail", rcpt, str(mail["Subject"] or ""), text, str(mail["Message-ID"] or "")
            )
        return "250 Message accepted for delivery"


class LocalMailbox:
    """A real SMTP server on this machine, run beside the API in development and tests."""

    def __init__(self, received: Received, host: str, port: int) -> None:
        self.controller = Controller(MailHandler(received), hostname=host, port=port)

    def start(self) -> None:
        """Listen."""
        self.controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()
