"""Starting the service processes on this machine, and finding those a deployment left."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from contracts import catalog
from contracts.catalog import Service
from services.common.settings import ROOT, Settings

SERVICES = catalog.SERVICES


def create_app(service: Service, settings: Settings) -> Any:
    """Build a service's HTTP app from its entry-point module."""
    return importlib.import_module(service.module).create_app(settings)


def create_worker(service: Service, settings: Settings) -> Any:
    """Build a service's stream worker from its entry-point module."""
    return importlib.import_module(service.module).create_worker(settings)


def run_dir(settings: Settings) -> Path:
    """The folder of this deployment's pid files."""
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
    name: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start one part of a service in the background, logging to var/log/<name>.log.

    `name` tells apart further instances of the same part; it is `<service>-<part>` by default.
    """
    name = name or f"{service}-{part}"
    log_dir = settings.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "services.cli.main", "serve", service, "--part", part]
    if port is not None:
        args += ["--port", str(port)]
    with (log_dir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    (run_dir(settings) / f"{name}.pid").write_text(str(proc.pid))
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


def signal_part(pid: int, sig: int) -> None:
    """Signal a part, and its children when it leads its own process group."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Leftover:
    """A running process of this deployment, known by its pid (perhaps from an earlier run)."""

    def __init__(self, pid: int, name: str) -> None:
        self.pid = pid
        self.name = name

    def alive(self) -> bool:
        """Whether the process runs (a zombie has stopped: it only waits for its parent)."""
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return False
        except ChildProcessError:
            pass
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")

    def terminate(self) -> None:
        """Ask it to stop."""
        signal_part(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Stop it at once."""
        signal_part(self.pid, signal.SIGKILL)


def pid_files(settings: Settings) -> list[Path]:
    """Every pid file of this deployment: the supervisor's, the parts', the local brokers'."""
    return sorted(run_dir(settings).glob("*.pid")) + sorted(
        (settings.var_dir / "kafka").glob("node-*/broker.pid")
    )


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def role(cmdline: list[str]) -> str | None:
    """Name what a command line runs if it is a part of a deployment (or its supervisor)."""
    if "kafka.Kafka" in cmdline:
        return "broker"
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "services.cli.main" or arg.endswith("/taizhang"):
            command = cmdline[i + 1]
            rest = cmdline[i + 2 :]
            if command == "serve" and rest:
                part = rest[rest.index("--part") + 1] if "--part" in rest[:-1] else "api"
                return f"{rest[0]}-{part}"
            if command in ("up", "supervise"):
                return "supervisor"
    return None


def _var_dir_of(pid: int) -> Path | None:
    """The var folder a process was given in its environment (None if it was given none)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
    env = dict(e.decode(errors="replace").partition("=")[::2] for e in raw.split(b"\0") if e)
    if "TAIZHANG_VAR_DIR" in env:
        return (cwd / env["TAIZHANG_VAR_DIR"]).resolve()
    return None


def belongs(pid: int, cmdline: list[str], settings: Settings) -> bool:
    """Whether a process works on this deployment's var folder."""
    var = settings.var_dir.resolve()
    if "kafka.Kafka" in cmdline:
        # The broker's command line names its properties file, under the var folder (its
        # jars may be shared with brokers of other deployments).
        return any(a.startswith(f"{var}/") and a.endswith(".properties") for a in cmdline)
    found = _var_dir_of(pid)
    if found is not None:
        return found == var
    # No folder of its own: the default one, if it runs from this checkout's environment.
    default = var == (ROOT / "var").resolve()
    return default and bool(cmdline) and cmdline[0].startswith(f"{ROOT}/")


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def leftovers(settings: Settings) -> list[Leftover]:
    """This deployment's running processes: those its pid files name, and any others found.

    A process counts if its command line is a part's and it works on this var folder, so a
    pid file naming a pid the system has since given to another process is ignored.
    """
    mine = _ancestors()
    found: dict[int, Leftover] = {}
    for path in pid_files(settings):
        try:
            pid = int(path.read_text())
        except (OSError, ValueError):
            continue
        cmdline = _cmdline(pid)
        name = role(cmdline)
        if pid not in mine and name is not None and belongs(pid, cmdline, settings):
            found[pid] = Leftover(pid, name)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine or int(entry.name) in found:
            continue
        pid, cmdline = int(entry.name), _cmdline(int(entry.name))
        name = role(cmdline)
        if name is not None and belongs(pid, cmdline, settings):
            found[pid] = Leftover(pid, name)
    # The supervisor first, so it is told to stop before it sees its parts go.
    return sorted(
        (p for p in found.values() if p.alive()), key=lambda p: (p.name != "supervisor", p.pid)
    )


def forget_stale(settings: Settings) -> list[Path]:
    """Remove the pid files whose process no longer runs a part of this deployment."""
    stale = []
    for path in pid_files(settings):
        try:
            pid = int(path.read_text())
        except (OSError, ValueError):
            pid = 0
        cmdline = _cmdline(pid) if pid > 0 else []
        running = role(cmdline) is not None and belongs(pid, cmdline, settings)
        if not running or not Leftover(pid, "").alive():
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale
