"""A PostgreSQL server of the ledger's own: Debian's server binaries, a data folder, a free port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Debian installs each major version's server under its own folder; the newest one is used.
SERVERS = Path("/usr/lib/postgresql")
# The server refuses to run as root, so on a root shell it runs as the package's own user.
OWNER = "postgres"


class PostgresError(Exception):
    """The server could not be found or started."""


def server_bin() -> Path:
    """The folder of the newest installed server's programs."""
    found = sorted(
        (p for p in SERVERS.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresError("no PostgreSQL server installed: run `make postgres`")
    return found[-1]


@dataclass
class LocalPostgres:
    """One server on loopback, its data under `home`, reachable as `url`."""

    home: Path
    port: int
    database: str = "taizhang"
    user: str = "taizhang"

    @property
    def url(self) -> str:
        """The address services are given as DATABASE_URL."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", OWNER, "--"]
        return subprocess.run([*prefix, *argv], capture_output=True, check=False, timeout=120)

    def start(self) -> float:
        """Create the data folder and start the server; return the seconds it took."""
        began = time.monotonic()
        bin_dir = server_bin()
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OWNER)
            for path in (self.home, *self.home.parents):
                if path == Path("/"):
                    break
                # The server's user must reach its folder through every parent.
                os.chmod(path, os.stat(path).st_mode | 0o711)
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        data = self.home / "data"
        if not data.exists():
            made = self._run(
                str(bin_dir / "initdb"),
                "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
            if made.returncode != 0:
                raise PostgresError(made.stderr.decode(errors="replace")[-2000:])
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={data}"
            " -c max_connections=200 -c fsync=on"
        )
        started = self._run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.home / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.home / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresError(started.stderr.decode(errors="replace") + log)
        created = self._run(
            str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", self.user, self.database,
        )  # fmt: skip
        if created.returncode != 0 and b"already exists" not in created.stderr:
            raise PostgresError(created.stderr.decode(errors="replace"))
        return time.monotonic() - began

    def stop(self) -> None:
        """Stop the server at once, its data kept."""
        self._run(str(server_bin() / "pg_ctl"), "-D", str(self.home / "data"), "-m", "fast", "stop")


@contextmanager
def own_postgres(home: Path, port: int) -> Iterator[LocalPostgres]:
    """Start a server of its own on `port` with its data under `home`; remove it afterwards."""
    server = LocalPostgres(home=home, port=port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
