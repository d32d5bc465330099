"""Fail-closed settings, tokens with issuer, audience and a bounded life, and revocations."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jwt
import pytest

from contracts.envelope import Actor
from services.common import auth
from services.common.auth import Claims, TokenError, issue_token, read_claims, read_token
from services.common.revocations import Revocation, Revocations
from services.common.settings import DEFAULT_SECRET, Settings
from services.common.subkeys import subkey

J, M = "j" * 40, "m" * 40
UNIT = "demo/co/p01"


def strong(environment: str = "test") -> Settings:
    """Settings with secrets of their own, as any deployment but development has."""
    return Settings(environment=environment, jwt_secret=J, master_key=M)


def rep_token(settings: Settings, hours: int | None = None, audience: str | None = None) -> str:
    """A token for the rep of demo/co/p01."""
    return issue_token(
        settings, user="rep-p01", role="worker_rep", unit=UNIT, hours=hours, audience=audience
    )


def test_a_deployment_that_names_no_environment_is_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAIZHANG_ENVIRONMENT")
    assert strong("production").environment == "production"
    with pytest.raises(ValueError, match="must be set outside development"):
        Settings()


@pytest.mark.parametrize("environment", ["test", "production"])
def test_the_default_secrets_are_refused_everywhere_but_development(environment: str) -> None:
    with pytest.raises(ValueError, match="must be set outside development"):
        Settings(environment=environment, master_key="m" * 40)
    with pytest.raises(ValueError, match="must be set outside development"):
        Settings(environment=environment, jwt_secret="j" * 40)
    assert Settings(environment="development").jwt_secret == DEFAULT_SECRET


def test_subkeys_differ_by_purpose_and_version_and_are_stable() -> None:
    keys = {subkey("m", p, v) for p in ("tokens", "commands") for v in (1, 2)}
    assert len(keys) == 4 and all(len(k) == 32 for k in keys)
    assert subkey("m", "tokens") == subkey("m", "tokens", 1)


def test_a_token_carries_issuer_audience_id_and_key_version() -> None:
    settings = strong()
    token = rep_token(settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "taizhang" and claims["aud"] == "taizhang-api" and claims["jti"]
    assert jwt.get_unverified_header(token)["kid"] == "tokens/v1"
    assert read_token(settings, token) == Actor(user_id="rep-p01", role="worker_rep", unit=UNIT)
    # Signed with a derived key: the master secret itself signs nothing a reader believes.
    forged = jwt.encode(
        claims, settings.jwt_secret, algorithm="HS256", headers={"kid": "tokens/v1"}
    )
    with pytest.raises(TokenError):
        read_token(settings, forged)


def test_a_token_for_another_audience_or_issuer_is_refused() -> None:
    settings = strong()
    with pytest.raises(TokenError, match=r"[Aa]udience"):
        read_token(settings, rep_token(settings, audience="another-system"))
    other = settings.model_copy(update={"token_issuer": "elsewhere"})
    with pytest.raises(TokenError, match=r"[Ii]ssuer"):
        read_token(settings, rep_token(other))


def test_a_token_lives_no_longer_than_the_maximum() -> None:
    settings = strong()
    assert read_token(settings, rep_token(settings, hours=24))
    with pytest.raises(TokenError, match="24 hours at most"):
        rep_token(settings, hours=25)
    longer = settings.model_copy(update={"token_max_hours": 48})
    with pytest.raises(TokenError, match="longer than 24 hours"):
        read_token(settings, rep_token(longer, hours=25))


def test_a_rotated_key_still_reads_the_tokens_of_the_version_before_only() -> None:
    v1 = strong()
    token = rep_token(v1)
    assert read_token(v1.model_copy(update={"key_version": 2}), token)
    with pytest.raises(TokenError, match="not one this ledger signs with"):
        read_token(v1.model_copy(update={"key_version": 3}), token)


def test_a_remembered_token_still_expires_and_a_bad_one_is_never_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = strong()
    token = rep_token(settings, hours=1)
    claims = read_claims(settings, token)
    assert read_claims(settings, token) is claims, "verified once, then remembered"
    # Remembered under its settings: another audience still refuses it.
    with pytest.raises(TokenError, match=r"[Aa]udience"):
        read_claims(settings.model_copy(update={"token_audience": "elsewhere"}), token)
    expired = datetime.fromtimestamp(claims.expires_at, UTC)
    monkeypatch.setattr(auth, "now_utc", lambda: expired)
    with pytest.raises(TokenError, match="expired"):
        read_claims(settings, token)
    forged = f"{token[:-4]}{'AAAA' if not token.endswith('AAAA') else 'BBBB'}"
    before = auth._verified.cache_info().currsize
    for _ in range(3):
        with pytest.raises(TokenError):
            read_claims(settings, forged)
    assert auth._verified.cache_info().currsize == before
    assert auth._verified.cache_info().maxsize == auth.VERIFIED_TOKENS


def _claims(settings: Settings, user: str = "rep-p01", role: str = "worker_rep") -> Claims:
    return read_claims(settings, issue_token(settings, user=user, role=role, unit=UNIT))


def test_a_signed_out_token_and_a_revoked_users_tokens_are_refused() -> None:
    settings = strong()
    known = Revocations(settings)
    mine, other = _claims(settings), _claims(settings)
    now = int(time.time())
    known.apply(
        Revocation(kind="token", subject=mine.token_id, at=now, until=mine.expires_at, by="rep-p01")
    )
    assert known.refused(mine) and known.refused(other) is None
    chair = _claims(settings, user="chair-co", role="union_chair")
    known.apply(Revocation(kind="user", subject="chair-co", at=now, until=now + 3600, by="admin"))
    assert known.refused(chair) == "the user's tokens were revoked"
    later = Claims(chair.actor, "fresh", issued_at=now + 1, expires_at=now + 3600)
    assert known.refused(later) is None


def test_revocations_that_no_longer_matter_are_forgotten() -> None:
    known = Revocations(Settings(environment="development"))
    now = int(time.time())
    known.apply(Revocation(kind="token", subject="gone", at=now - 10, until=now - 1, by="x"))
    for n in range(3):
        known.apply(Revocation(kind="token", subject=f"t{n}", at=now, until=now + 60, by="x"))
    assert set(known.tokens) == {"t0", "t1", "t2"}
