"""A deployment's supervisor: it starts the parts, restarts any that exits, stops them all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from pydantic import Field
from rich.console import Console

from contracts.catalog import SERVICES
from services.cli import processes
from services.cli.broker import BrokerError, LocalBroker
from services.cli.cluster import LocalCluster, client_ports
from services.cli.lifecycle import Backoff, Stopped, stop_grace, stop_together
from services.common import kafka as kafka_kit
from services.common.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
READY = "supervisor.ready"
WATCH_INTERVAL_S = 0.25
START_TIMEOUT_S = 180.0


class SupervisorSettings(Settings):
    """The shared settings, and how the supervisor restarts and stops the parts."""

    restart_delay_s: float = Field(default=1.0, ge=0.0, le=600.0)
    restart_delay_max_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # A part up this long was healthy: its next exit is restarted after the first delay again.
    restart_stable_s: float = Field(default=60.0, ge=0.0, le=86_400.0)
    # How long the parts have to stop on their own before they are killed.
    stop_grace_s: float = Field(default=8.0, ge=0.0, le=60.0)
    # A broker's: a controlled shutdown's time, so its next start does not recover its logs.
    broker_stop_grace_s: float = Field(default=30.0, ge=0.0, le=300.0)
    # Added to every service's registered port, so a second deployment can run beside the first.
    port_offset: int = Field(default=0, ge=0, le=57_000)

    def port(self, service: str) -> int:
        """The HTTP port a service's API listens on in this deployment."""
        return SERVICES[service].port + self.port_offset

    def urls(self) -> dict[str, str]:
        """Where each service's API is in this deployment, as the settings the portal reads."""
        return {
            f"{name}_url": f"http://127.0.0.1:{self.port(name)}"
            for name in SERVICES
            if f"{name}_url" in Settings.model_fields
        }

    def grace(self, part: str) -> float:
        """How long a part, by its name, has to stop before it is killed."""
        return stop_grace(part, self.stop_grace_s, self.broker_stop_grace_s)

    def backoff(self) -> Backoff:
        """A fresh restart schedule for one part."""
        return Backoff(self.restart_delay_s, self.restart_delay_max_s, self.restart_stable_s)


def local_brokers(settings: Settings) -> list[LocalBroker]:
    """The nodes this deployment manages: one per bootstrap address, a quorum if several."""
    ports = client_ports(settings.kafka_bootstrap_servers)
    if len(ports) == 1:
        return [local_broker(settings)]
    kafka = settings.var_dir / "kafka"
    return LocalCluster(kafka, kafka / "libs", tuple(ports), log_dir=settings.var_dir / "log").nodes


def local_broker(settings: Settings) -> LocalBroker:
    """The broker `make run` manages, on the configured port."""
    port = int(settings.kafka_bootstrap_servers.rsplit(":", 1)[-1])
    return LocalBroker(
        home=settings.var_dir / "kafka" / f"node-{port}",
        libs=settings.var_dir / "kafka" / "libs",
        port=port,
        controller_port=port + 1,
        log_dir=settings.var_dir / "log",
    )


class Journal:
    """Where the supervisor says what it did: var/log/supervisor.log, and the console if any."""

    def __init__(self, settings: Settings, echo: Console | None) -> None:
        self.path = settings.var_dir / "log" / "supervisor.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.echo = echo

    def say(self, text: str) -> None:
        """Record one line, stamped with the time."""
        line = f"{datetime.now(UTC).isoformat(timespec='seconds')} {text}"
        with self.path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
        if self.echo is not None:
            self.echo.print(line, highlight=False, soft_wrap=True)


def exit_reason(code: int) -> str:
    """Say how a process ended, from its return code."""
    if code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"code {code}"
    return f"code {code}"


class Part:
    """One supervised process: how it is started, the process now running it, its restarts."""

    def __init__(
        self,
        name: str,
        launch: Callable[[], subprocess.Popen[bytes]],
        backoff: Backoff,
        pid_file: Path,
    ) -> None:
        self.name = name
        self.launch = launch
        self.backoff = backoff
        self.pid_file = pid_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.began = 0.0
        self.restart_at: float | None = None

    def start(self, now: float) -> None:
        """Start the part's process."""
        self.proc = self.launch()
        self.began, self.restart_at = now, None

    def alive(self) -> bool:
        """Whether the part's process runs."""
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Ask the part to stop."""
        if self.proc is not None:
            processes.signal_part(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Stop the part at once."""
        if self.proc is not None:
            processes.signal_part(self.proc.pid, signal.SIGKILL)

    def reap(self) -> None:
        """Collect the stopped process and forget its pid."""
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        self.pid_file.unlink(missing_ok=True)


class Supervisor:
    """Starts a deployment's parts, restarts any that exits with backoff, and stops them all."""

    def __init__(
        self,
        settings: SupervisorSettings,
        journal: Journal,
        services: Sequence[str],
        brokers: Sequence[LocalBroker],
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.services = list(services)
        self.brokers = list(brokers)
        self.parts: list[Part] = []
        self.stopping = False
        self.hurry = False
        self.pid_file = processes.run_dir(settings) / "supervisor.pid"

    def _service_part(self, service: str, part: str) -> Part:
        env = {f"TAIZHANG_{k.upper()}": v for k, v in self.settings.urls().items()}
        port = self.settings.port(service) if part == "api" else None

        def launch() -> subprocess.Popen[bytes]:
            return processes.spawn(self.settings, service, part, port=port, env=env)

        pid_file = processes.run_dir(self.settings) / f"{service}-{part}.pid"
        return Part(f"{service}-{part}", launch, self.settings.backoff(), pid_file)

    def start(self) -> dict[str, int]:
        """Start the brokers (if ours), the topics, then every part; return the API ports."""
        self.pid_file.write_text(str(os.getpid()))
        for broker in self.brokers:
            if broker.answering():
                raise BrokerError(f"port {broker.port} is taken by another process")
        # Every node at once: the nodes of a quorum answer only once most of them run.
        started: list[tuple[LocalBroker, Part]] = []
        for broker in self.brokers:
            name = "broker" if len(self.brokers) == 1 else f"broker-{broker.node_id}"
            part = Part(name, broker.launch, self.settings.backoff(), broker.pid_file)
            self.parts.append(part)
            part.start(time.monotonic())
            started.append((broker, part))
        for broker, part in started:
            broker.wait_ready(90, part.proc)
            self.journal.say(f"{part.name} on {broker.bootstrap} ready")
        kafka_kit.ensure_topics(self.settings)
        apis: dict[str, Part] = {}
        for name in self.services:
            for kind in SERVICES[name].parts:
                part = self._service_part(name, kind)
                self.parts.append(part)
                part.start(time.monotonic())
                if kind == "api":
                    apis[name] = part
        deadline = time.monotonic() + START_TIMEOUT_S
        for name, part in apis.items():
            url = f"http://127.0.0.1:{self.settings.port(name)}"
            processes.wait_healthy(url, max(1.0, deadline - time.monotonic()), part.proc)
        self.journal.say(f"supervising {len(self.parts)} parts")
        return {name: self.settings.port(name) for name in apis}

    def watch(self, now: float) -> None:
        """Note the parts that exited and restart those whose wait is over."""
        for part in self.parts:
            if self.stopping:
                return
            if part.restart_at is None:
                if part.proc is None or part.proc.poll() is None:
                    continue
                delay = part.backoff.delay(now - part.began)
                part.restart_at = now + delay
                self.journal.say(
                    f"{part.name} exited with {exit_reason(part.proc.returncode)} after"
                    f" {now - part.began:.1f}s; restarting it in {delay:g}s"
                )
            elif now >= part.restart_at:
                try:
                    part.start(now)
                except (OSError, BrokerError) as exc:
                    delay = part.backoff.delay(0)
                    part.restart_at = now + delay
                    self.journal.say(f"{part.name} did not start ({exc}); trying in {delay:g}s")
                    continue
                pid = part.proc.pid if part.proc is not None else None
                self.journal.say(f"{part.name} restarted (pid {pid})")

    def request_stop(self, _signum: int, _frame: FrameType | None) -> None:
        """Stop at the next look; a second request kills what is left at once."""
        self.hurry = self.stopping
        self.stopping = True

    def run(self) -> None:
        """Watch the parts until told to stop."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.request_stop)
        while not self.stopping:
            self.watch(time.monotonic())
            time.sleep(WATCH_INTERVAL_S)

    def stop(self) -> Stopped:
        """Stop every part at once, kill what is left at the deadline, forget the pids."""
        self.stopping = True
        stopped = stop_together(self.parts, self.settings.grace, hurry=lambda: self.hurry)
        for part in self.parts:
            part.reap()
        for path in (self.pid_file, self.pid_file.with_name(READY)):
            path.unlink(missing_ok=True)
        killed = f", killed {', '.join(stopped.killed)}" if stopped.killed else ""
        self.journal.say(f"stopped {len(stopped.asked)} parts in {stopped.seconds:.1f}s{killed}")
        return stopped


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def supervise(
    settings: SupervisorSettings,
    journal: Journal,
    services: Sequence[str],
    broker: bool,
    on_ready: Callable[[dict[str, int]], None],
) -> None:
    """Start the parts, call `on_ready`, restart parts until told to stop, then stop them all."""
    supervisor = Supervisor(settings, journal, services, local_brokers(settings) if broker else [])
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        on_ready(supervisor.start())
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, supervisor.request_stop)
        supervisor.stop()


def announce_ready(settings: Settings, ports: dict[str, int]) -> None:
    """Tell the `up` that started this supervisor the API ports (written whole, then renamed)."""
    ready = processes.run_dir(settings) / READY
    partial = ready.with_suffix(".partial")
    partial.write_text(json.dumps(ports))
    partial.replace(ready)


def detach(settings: SupervisorSettings, services: Sequence[str], broker: bool) -> dict[str, int]:
    """Start a supervisor in the background and wait until its parts answer; return the ports."""
    ready = processes.run_dir(settings) / READY
    ready.unlink(missing_ok=True)
    log = settings.var_dir / "log" / "supervisor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "services.cli.main", "supervise"]
    args += ["--broker" if broker else "--no-broker"]
    args += [a for name in services for a in ("--service", name)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    timeout = START_TIMEOUT_S + 90
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if ready.exists():
                ports: dict[str, int] = json.loads(ready.read_text())
                return ports
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the supervisor exited with {exit_reason(proc.returncode)}; see {log}"
                )
            time.sleep(0.3)
        raise TimeoutError(f"the parts did not start within {timeout:.0f}s; see {log}")
    except BaseException:
        # Given up on: the supervisor stops what it started.
        proc.terminate()
        proc.wait(timeout=settings.grace("supervisor"))
        raise


def clear(settings: SupervisorSettings) -> Stopped:
    """Stop every process this deployment left running, all at once; clean its stale pid files."""
    stopped = stop_together(processes.leftovers(settings), settings.grace)
    processes.forget_stale(settings)
    (processes.run_dir(settings) / READY).unlink(missing_ok=True)
    return stopped
