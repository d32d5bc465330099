"""The machine a run happens on: CPU, cores, memory and software versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from typing import Any

from services.common.settings import ROOT

PACKAGES = [
    "fastapi",
    "uvicorn",
    "pydantic",
    "faust-streaming",
    "aiokafka",
    "kafka-python",
    "httpx",
    "eventsourcing",
    "py-spy",
]


def machine() -> dict[str, Any]:
    """Describe the CPU, the cores, the memory and the software versions."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kb = int(info.readline().split()[1])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    jars = sorted((ROOT / "var" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    versions["kafka broker"] = jars[0].stem.split("-", 1)[1] if jars else "unknown"
    versions["java"] = (java.stderr.splitlines() or ["unknown"])[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }
