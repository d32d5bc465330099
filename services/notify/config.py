"""Where the notification service sends: its SMTP server, its gateway, its directory file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import require_file
from services.notify.directory import DEFAULT_FILE


class NotifyConfig(BaseSettings):
    """Read from TAIZHANG_NOTIFY_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="TAIZHANG_NOTIFY_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    sender: str = "taizhang@union.example"
    # The SMS/WeCom gateway; in development the service's own recording gateway.
    gateway_url: str = "http://127.0.0.1:8006/dev/gateway/messages"
    directory_file: Path = DEFAULT_FILE
    # Run the local SMTP server and recording gateway inside the API (never in production).
    local: bool = True
    # At most this many messages go out per worker tick, so one tick stays short.
    per_tick: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _directory_exists(self) -> NotifyConfig:
        require_file(self.directory_file, "TAIZHANG_NOTIFY_DIRECTORY_FILE")
        return self
