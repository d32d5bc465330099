"""Settings shared by every service, read from TAIZHANG_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.catalog import SERVICES

DEFAULT_SECRET = "development-only-secret-change-me"
ROOT = Path(__file__).resolve().parents[2]


def require_file(path: Path, setting: str) -> None:
    """Refuse a configuration file that is not there, naming the setting that points at it."""
    if not path.is_file():
        raise ValueError(f"{setting} names {path}, which is not a file: set it to the file's path")


def _local(service: str) -> str:
    return f"http://127.0.0.1:{SERVICES[service].port}"


class Settings(BaseSettings):
    """Runtime configuration; one object built at start-up and passed down."""

    model_config = SettingsConfigDict(env_prefix="TAIZHANG_", extra="ignore", populate_by_name=True)

    # Fails closed: a deployment that says nothing is production.
    environment: Literal["development", "test", "production"] = "production"
    # Signing in as a demo user: development only, and only when asked for.
    demo_sign_in: bool = False
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    # How the clients reach the broker: PLAINTEXT on one machine, SASL_SSL on a cluster.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = ""
    # The certificate authority the broker's certificate is checked against.
    kafka_ca_file: Path | None = None
    topic_prefix: str = ""
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=5)
    # How many replicas must hold an event before it is acknowledged; unset, two where there
    # are two or more, so losing one broker loses no acknowledged event.
    min_insync_replicas: int | None = Field(default=None, ge=1, le=5)
    var_dir: Path = ROOT / "var"
    # The shared store of read models and keys (postgresql://…); unset, each process keeps
    # its own SQLite files under var/, which is for one machine only.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL", max_length=2000)
    # Without DATABASE_URL, the file the key vault lives in; production names it or is refused.
    vault_file: Path | None = None
    # How long a process trusts a data key it read before asking the vault again.
    vault_cache_s: float = Field(default=5.0, ge=0.0, le=300.0)
    units_file: Path = ROOT / "deploy" / "units.yaml"
    jwt_secret: str = DEFAULT_SECRET
    master_key: str = DEFAULT_SECRET
    token_ttl_hours: int = Field(default=12, ge=1, le=24)
    # No token is believed that was issued to live longer than this.
    token_max_hours: int = Field(default=24, ge=1, le=24 * 7)
    token_issuer: str = Field(default="taizhang", min_length=1, max_length=200)
    # Who a token is for: the ledger's APIs, and not some other system sharing the secret.
    token_audience: str = Field(default="taizhang-api", min_length=1, max_length=200)
    # The version of the token and command signing keys: raise it to rotate them.
    key_version: int = Field(default=1, ge=1, le=1000)
    # Outside development: the Ed25519 private key (PEM) this service signs its events with.
    signing_key_file: Path | None = None
    # In development, which key derived from the master secret signs: a rotation adds one.
    signing_key_version: int = Field(default=1, ge=1, le=1000)
    # The service keys readers believe, `key_id` or `key_id=public_key`, comma-separated;
    # empty believes every key published (refused in production).
    pinned_keys: str = Field(default="", max_length=20_000)
    # The audit service's public key (base64) that signed checkpoints are checked with.
    audit_public_key: str | None = None
    # How long a command may take to be stored and decided before its caller hears 503.
    reply_timeout_s: float = Field(default=4.0, gt=0.0, le=300.0)
    timer_interval_s: float = 30.0
    decide_batch: int = Field(default=200, ge=1, le=5000)
    # A batch is what arrived while the last one was decided; this may hold it to gather more.
    decide_window_s: float = Field(default=0.0, ge=0.0, le=1.0)
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # How long an API's /health tolerates its worker missing from its group before a 503.
    worker_grace_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    # How long one answer of the broker about the worker's group is reused by /health.
    worker_check_s: float = Field(default=3.0, ge=0.0, le=60.0)
    max_body_bytes: int = 64 * 1024
    # How long ago a command may say it happened: a grievance logged late, say.
    max_backdate_days: int = Field(default=3 * 365, ge=1, le=36500)
    # How far back a union chair's import of an existing ledger may date its commands.
    import_max_backdate_days: int = Field(default=10 * 365, ge=1, le=36500)
    rate_limit_per_minute: int = Field(default=6000, ge=1, le=10**9)
    log_level: str = "INFO"
    # Where the web portal finds each service's HTTP API.
    intake_url: str = _local("intake")
    suggestions_url: str = _local("suggestions")
    mediation_url: str = _local("mediation")
    followup_url: str = _local("followup")
    library_url: str = _local("library")
    audit_url: str = _local("audit")
    notify_url: str = _local("notify")
    # Where a worker follows a case with a receipt: the address an SMS gives them.
    portal_url: str = _local("portal")
    # Proxies (the portal, a load balancer) whose X-Forwarded-For names the real client of a
    # public route, comma-separated; by default no one's is believed.
    trusted_proxies: str = ""
    demo_users_file: Path = ROOT / "deploy" / "demo-users.yaml"

    @model_validator(mode="after")
    def _files_exist(self) -> Settings:
        wanted = {"units_file": self.units_file}
        if self.demo_sign_in_allowed:
            wanted["demo_users_file"] = self.demo_users_file
        for name, path in wanted.items():
            require_file(path, f"TAIZHANG_{name.upper()}")
        return self

    @model_validator(mode="after")
    def _durable(self) -> Settings:
        if self.min_isr > self.replication_factor:
            raise ValueError(
                f"TAIZHANG_MIN_INSYNC_REPLICAS ({self.min_isr}) exceeds"
                f" TAIZHANG_REPLICATION_FACTOR ({self.replication_factor}): no write could succeed"
            )
        return self

    @model_validator(mode="after")
    def _fail_closed(self) -> Settings:
        if self.environment == "development":
            return self
        if DEFAULT_SECRET in (self.jwt_secret, self.master_key):
            raise ValueError(
                "TAIZHANG_JWT_SECRET and TAIZHANG_MASTER_KEY must be set outside development"
            )
        if self.demo_sign_in:
            raise ValueError("TAIZHANG_DEMO_SIGN_IN is for development only")
        return self

    @property
    def demo_sign_in_allowed(self) -> bool:
        """Whether people may sign in as a demo user: asked for, in development."""
        return self.demo_sign_in and self.environment == "development"

    @property
    def min_isr(self) -> int:
        """The replicas that must hold a write before it is acknowledged, given or by default."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return min(2, self.replication_factor)

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
