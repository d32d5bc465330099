"""Settings shared by every service, read from TAIZHANG_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.catalog import SERVICES

DEFAULT_SECRET = "development-only-secret-change-me"
ROOT = Path(__file__).resolve().parents[2]


def _local(service: str) -> str:
    return f"http://127.0.0.1:{SERVICES[service].port}"


class Settings(BaseSettings):
    """Runtime configuration; one object built at start-up and passed down."""

    model_config = SettingsConfigDict(env_prefix="TAIZHANG_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    topic_prefix: str = ""
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=5)
    var_dir: Path = ROOT / "var"
    units_file: Path = ROOT / "deploy" / "units.yaml"
    jwt_secret: str = DEFAULT_SECRET
    master_key: str = DEFAULT_SECRET
    token_ttl_hours: int = 12
    # How long a command may take to be stored and decided before its caller hears 503.
    reply_timeout_s: float = Field(default=4.0, gt=0.0, le=300.0)
    timer_interval_s: float = 30.0
    decide_batch: int = Field(default=200, ge=1, le=5000)
    decide_window_s: float = Field(default=0.005, ge=0.0, le=1.0)
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # How long an API's /health tolerates its worker missing from its group before a 503.
    worker_grace_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # How long one answer of the broker about the worker's group is reused by /health.
    worker_check_s: float = Field(default=3.0, ge=0.0, le=60.0)
    max_body_bytes: int = 64 * 1024
    # How long ago a command may say it happened: a grievance logged late, say.
    max_backdate_days: int = Field(default=3 * 365, ge=1, le=36500)
    rate_limit_per_minute: int = 6000
    log_level: str = "INFO"
    # Where the web portal finds each service's HTTP API.
    intake_url: str = _local("intake")
    suggestions_url: str = _local("suggestions")
    mediation_url: str = _local("mediation")
    followup_url: str = _local("followup")
    library_url: str = _local("library")
    audit_url: str = _local("audit")
    demo_users_file: Path = ROOT / "deploy" / "demo-users.yaml"

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production" and DEFAULT_SECRET in (
            self.jwt_secret,
            self.master_key,
        ):
            raise ValueError(
                "TAIZHANG_JWT_SECRET and TAIZHANG_MASTER_KEY must be set outside development"
            )
        return self

    def topic(self, name: str) -> str:
        """Return a topic name with this deployment's prefix."""
        return f"{self.topic_prefix}{name}"

    @property
    def data_dir(self) -> Path:
        """Folder for this deployment's local stores."""
        sub = self.topic_prefix.strip(".") or "default"
        path = self.var_dir / "data" / sub
        path.mkdir(parents=True, exist_ok=True)
        return path
