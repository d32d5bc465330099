"""What the deploy files are checked against: the settings' names and the registry's parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from contracts.catalog import SERVICES
from services.audit.treeheads import KeySettings
from services.common.settings import Settings
from services.notify.config import NotifyConfig


def env_names(*models: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads, as a deployment must spell them."""
    names: set[str] = set()
    for model in models:
        prefix = str(model.model_config.get("env_prefix", ""))
        for name, field in model.model_fields.items():
            alias = field.validation_alias
            names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


SETTINGS = env_names(Settings, KeySettings, NotifyConfig)
PARTS = {(s.name, part) for s in SERVICES.values() for part in s.parts}


def documents(path: Path) -> list[dict[str, Any]]:
    """Every document of a YAML file."""
    text = path.read_text(encoding="utf-8")
    return [
        d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d
    ]


def served(args: list[str]) -> tuple[str, str] | None:
    """The service and part a `taizhang serve` command line runs (None for other commands)."""
    if not args or args[0] != "serve":
        return None
    part = args[args.index("--part") + 1] if "--part" in args else "api"
    return args[1], part


def option(args: list[str], name: str) -> str | None:
    """The value of a command-line option, if given."""
    return args[args.index(name) + 1] if name in args else None
