"""Keys for one purpose each, derived from a master secret, so each can be rotated by version."""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def subkey(master: str, purpose: str, version: int = 1) -> bytes:
    """A 32-byte key for one purpose, derived from the master secret."""
    return HKDF(
        algorithm=SHA256(), length=32, salt=None, info=f"taizhang/{purpose}/v{version}".encode()
    ).derive(master.encode())
