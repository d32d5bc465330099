"""Starting and stopping the service processes on this machine."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from services.common.decider import CaseKind
from services.common.settings import Settings


@dataclass(frozen=True)
class Entry:
    """How to run one service: its HTTP port and the module with create_app/create_worker."""

    port: int
    module: str
    # The web portal only calls the other services' APIs: it has no stream worker to run.
    has_worker: bool = True

    def app(self, settings: Settings) -> Any:
        """Build the service's HTTP app."""
        return importlib.import_module(self.module).create_app(settings)

    def worker(self, settings: Settings) -> Any:
        """Build the service's stream worker."""
        return importlib.import_module(self.module).create_worker(settings)


SERVICES: dict[str, Entry] = {
    "intake": Entry(port=8001, module="services.intake.app"),
    "suggestions": Entry(port=8002, module="services.suggestions.app"),
    "mediation": Entry(port=8003, module="services.mediation.app"),
    "followup": Entry(port=8004, module="services.followup.app"),
    "audit": Entry(port=8005, module="services.audit.app"),
    "portal": Entry(port=8000, module="services.portal.app", has_worker=False),
}

# Which case kind (module attribute KIND) owns each case-id prefix.
KINDS: dict[str, str] = {
    "GRV": "services.intake.service",
    "GRP": "services.suggestions.service",
    "SUG": "services.suggestions.service",
    "QRY": "services.suggestions.service",
    "DSP": "services.mediation.service",
    "FUP": "services.followup.service",
}


def kind_of(case_id: str) -> CaseKind[Any]:
    """Return the case kind that owns a case id."""
    kind: CaseKind[Any] = importlib.import_module(KINDS[case_id.split("-", 1)[0]]).KIND
    return kind


def _run_dir(settings: Settings) -> Any:
    path = settings.var_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def spawn(
    settings: Settings,
    service: str,
    part: str,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start one part of a service in the background, logging to var/log/."""
    log_dir = settings.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "services.cli.main", "serve", service, "--part", part]
    if port is not None:
        args += ["--port", str(port)]
    with (log_dir / f"{service}-{part}.log").open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    (_run_dir(settings) / f"{service}-{part}.pid").write_text(str(proc.pid))
    return proc


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until a service's /health answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode} before it was healthy")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} was not healthy within {timeout:.0f}s")


def start_all(settings: Settings) -> dict[str, int]:
    """Start every service's worker and API; return the API ports."""
    ports: dict[str, int] = {}
    for name, entry in SERVICES.items():
        if entry.has_worker:
            spawn(settings, name, "worker")
        proc = spawn(settings, name, "api", port=entry.port)
        wait_healthy(f"http://127.0.0.1:{entry.port}", 60, proc)
        ports[name] = entry.port
    return ports


def stop_all(settings: Settings) -> None:
    """Stop every service process started by `start_all`."""
    for pid_file in sorted(_run_dir(settings).glob("*.pid")):
        try:
            pid = int(pid_file.read_text())
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
        pid_file.unlink(missing_ok=True)
