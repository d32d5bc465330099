"""Where this deployment's key vault lives, and the rule that keeps production off a lost one.

With DATABASE_URL the vault is the shared one on PostgreSQL. Without it the vault is a
SQLite file: in development and tests `var/vault.sqlite`, or wherever TAIZHANG_VAULT_FILE
says. Production refuses a vault nobody named: a file that happens to sit in a process's own
folder is lost with a restarted pod, and with it every worker's personal data.
"""

from __future__ import annotations

from pathlib import Path

from services.common.pgvault import PostgresKeyVault
from services.common.settings import Settings
from services.common.vault import KeyCache, KeyVault, SqliteKeyVault


class VaultRefused(RuntimeError):
    """The settings name no vault that outlives this process, or name two."""


def vault_file(settings: Settings) -> Path | None:
    """The SQLite file the vault lives in, None when it lives on PostgreSQL; refuses a lost one."""
    if settings.database_url:
        if settings.vault_file is not None:
            raise VaultRefused("name one key vault: DATABASE_URL or TAIZHANG_VAULT_FILE, not both")
        return None
    if settings.vault_file is not None:
        if settings.environment == "production" and not settings.vault_file.is_absolute():
            raise VaultRefused("TAIZHANG_VAULT_FILE must be an absolute path in production")
        return settings.vault_file
    if settings.environment == "production":
        raise VaultRefused(
            "production keeps its keys where every replica and restart finds them: set"
            " DATABASE_URL, or TAIZHANG_VAULT_FILE to a file on a volume that outlives the process"
        )
    return settings.var_dir / "vault.sqlite"


def open_vault(settings: Settings) -> KeyVault:
    """Open this deployment's key vault, the shared one when DATABASE_URL is set."""
    path = vault_file(settings)
    cache = KeyCache(max_age_s=settings.vault_cache_s)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteKeyVault(path, settings.master_key, cache)
    return PostgresKeyVault(
        settings.database_url or "", settings.topic_prefix, settings.master_key, cache
    )
