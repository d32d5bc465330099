"""Starting and stopping the service processes on this machine."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx

from contracts import catalog
from contracts.catalog import Service
from services.common.settings import Settings

SERVICES = catalog.SERVICES


def create_app(service: Service, settings: Settings) -> Any:
    """Build a service's HTTP app from its entry-point module."""
    return importlib.import_module(service.module).create_app(settings)


def create_worker(service: Service, settings: Settings) -> Any:
    """Build a service's stream worker from its entry-point module."""
    return importlib.import_module(service.module).create_worker(settings)


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
