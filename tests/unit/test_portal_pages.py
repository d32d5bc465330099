"""The portal's pages without the services: sign-in, the language switch, an API that is down."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.settings import Settings
from services.common.units import load_units
from services.portal.app import create_app
from services.portal.client import SERVICES, Api
from services.portal.guard import CSRF_COOKIE, form_token
from services.portal.i18n import Words
from services.portal.session import load_demo_users
from services.portal.web import TEMPLATES, Portal

# Nothing listens on port 9 of the loopback: every service is "down".
DOWN = "http://127.0.0.1:9"
DEV = Settings(environment="development", demo_sign_in=True)


async def send(
    client: httpx.AsyncClient, path: str, data: dict[str, str], settings: Settings = DEV
) -> httpx.Response:
    """Post a form as a page of the portal does: with the token its pages put in forms."""
    if CSRF_COOKIE not in client.cookies:
        await client.get("/signin")
    token = form_token(settings, client.cookies[CSRF_COOKIE])
    return await client.post(path, data={**data, "csrf": token})


async def _client(settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings)
    api = Api(
        urls=dict.fromkeys(SERVICES, DOWN),
        http=httpx.AsyncClient(timeout=2),
    )
    app.state.portal = Portal(
        settings=settings,
        api=api,
        units=load_units(settings.units_file),
        demo_users=load_demo_users(settings),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")


@pytest.fixture
async def portal() -> AsyncIterator[httpx.AsyncClient]:
    client = await _client(DEV)
    async with client:
        yield client


async def test_signing_in_keeps_the_token_in_an_httponly_samesite_cookie(
    portal: httpx.AsyncClient,
) -> None:
    listed = await portal.get("/signin")
    assert listed.status_code == 200 and 'data-user="rep-p01"' in listed.text
    signed = await send(portal, "/signin", {"user": "rep-p01"})
    assert signed.status_code == 303 and signed.headers["location"] == "/grievances"
    cookie = signed.headers["set-cookie"].lower()
    assert cookie.startswith("tz_session=") and "httponly" in cookie and "samesite=lax" in cookie


async def test_a_service_that_is_down_is_told_in_words_and_the_form_keeps_its_input(
    portal: httpx.AsyncClient,
) -> None:
    await send(portal, "/signin", {"user": "rep-p01"})
    listed = await portal.get("/grievances")
    assert listed.status_code == 200
    assert "台账暂时无法连接" in listed.text and "Traceback" not in listed.text
    typed = {
        "category": "canteen",
        "channel": "in_person",
        "summary": "食堂菜品有待改善",
        "name": "王小林",
        "phone": "13800000001",
    }
    sent = await send(portal, "/grievances/new", typed)
    assert sent.status_code == 503
    assert 'value="食堂菜品有待改善"' in sent.text and 'value="王小林"' in sent.text
    assert 'id="cat-canteen" value="canteen" checked' in sent.text


async def test_the_language_switch_sets_a_cookie_and_translates(portal: httpx.AsyncClient) -> None:
    switched = await portal.get("/lang/en", params={"next": "/signin"})
    assert switched.status_code == 303 and switched.headers["location"] == "/signin"
    assert switched.cookies["tz_lang"] == "en"
    page = await portal.get("/signin")
    assert "Sign in as a demo user" in page.text and '<html lang="en">' in page.text


async def test_demo_sign_in_is_refused_in_production() -> None:
    settings = Settings(environment="production", jwt_secret="s" * 40, master_key="k" * 40)
    client = await _client(settings)
    async with client:
        listed = await client.get("/signin")
        assert listed.status_code == 403 and "rep-p01" not in listed.text
        refused = await send(client, "/signin", {"user": "rep-p01"}, settings)
        assert refused.status_code == 403 and "tz_session" not in refused.cookies


async def test_pages_behind_sign_in_send_visitors_to_sign_in(portal: httpx.AsyncClient) -> None:
    for path in ("/grievances", "/suggestions", "/disputes", "/audit", "/dashboard"):
        response = await portal.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/signin"), path


async def test_an_auditor_is_told_in_words_when_the_audit_service_is_down(
    portal: httpx.AsyncClient,
) -> None:
    await send(portal, "/signin", {"user": "aud"})
    replay = await portal.get("/audit/GRV-ABCD1234")
    assert replay.status_code == 503
    assert "审计服务暂时无法连接" in replay.text and "Traceback" not in replay.text
    exported = await portal.get("/audit/export", params={"unit": "demo", "fmt": "csv"})
    assert exported.status_code == 503 and "审计服务暂时无法连接" in exported.text
    found = await portal.get("/audit")
    assert found.status_code == 200 and 'action="/audit/export"' in found.text


async def test_a_followup_officer_is_told_when_the_followup_service_is_down(
    portal: httpx.AsyncClient,
) -> None:
    await send(portal, "/signin", {"user": "fup-1"})
    listed = await portal.get("/followups")
    assert listed.status_code == 200 and "跟踪回访服务暂时无法连接" in listed.text
    sent = await send(
        portal, "/followups/FUP-ABCD1234/contact", {"satisfaction": "satisfied", "comment": ""}
    )
    assert sent.status_code == 503 and "跟踪回访服务暂时无法连接" in sent.text
    board = await portal.get("/dashboard")
    assert "跟踪回访服务暂时无法连接" in board.text


def test_a_timeline_shows_sealed_text_opened_and_never_the_sealed_value() -> None:
    sealed = {"kid": "PER-0123456789abcdef0123", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}
    event = {
        "case_version": 2,
        "occurred_at": "2026-11-23T01:00:00.000000Z",
        "event_type": "grievance.resolved",
        "actor": {"role": "worker_rep", "user_id": "rep-p01"},
    }
    events = [
        {
            **event,
            "payload": {"how": "on_site", "resolution": sealed},
            "opened": {"resolution": "已整改"},
        },
        {**event, "payload": {"how": "on_site", "resolution": "写于封存之前"}},
        {**event, "payload": {"how": "on_site", "resolution": sealed}},
    ]
    html = TEMPLATES.get_template("_timeline.html").render(t=Words("zh"), events=events)
    assert "已整改" in html and "写于封存之前" in html
    assert "c2VhbGVk" not in html and "PER-0123456789abcdef0123" not in html


async def test_a_form_without_this_browsers_token_or_from_another_site_is_refused(
    portal: httpx.AsyncClient,
) -> None:
    bare = await portal.post("/signin", data={"user": "rep-p01"})
    assert bare.status_code == 403 and "tz_session" not in bare.cookies
    assert "这张表单已过期" in bare.text
    token = form_token(DEV, portal.cookies[CSRF_COOKIE])
    elsewhere = await portal.post(
        "/signin",
        data={"user": "rep-p01", "csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403 and "tz_session" not in elsewhere.cookies
    other_browser = form_token(DEV, "0" * 32)
    forged = await portal.post("/signin", data={"user": "rep-p01", "csrf": other_browser})
    assert forged.status_code == 403
    same = await portal.post(
        "/signin", data={"user": "rep-p01", "csrf": token}, headers={"origin": "http://portal"}
    )
    assert same.status_code == 303 and "tz_session" in same.cookies
    page = await portal.get("/grievances/new")
    forms = page.text.count('<form method="post"')
    assert forms and page.text.count(f'name="csrf" value="{token}"') == forms


async def test_the_language_switch_never_sends_anyone_to_another_site(
    portal: httpx.AsyncClient,
) -> None:
    for target in ("/\\evil.com", "//evil.com", "https://evil.com", "/\\/evil.com"):
        switched = await portal.get("/lang/en", params={"next": target})
        assert switched.headers["location"] == "/", target


async def test_the_library_pages_say_so_when_the_library_is_down(
    portal: httpx.AsyncClient,
) -> None:
    await send(portal, "/signin", {"user": "med-1"})
    for path in ("/library", "/volunteers", "/help"):
        shown = await portal.get(path)
        assert shown.status_code == 200 and "台账暂时无法连接" in shown.text, path
    board = await portal.get("/dashboard")
    assert "以案说法服务暂时无法连接" in board.text


async def test_a_volunteer_starts_on_their_help_requests(portal: httpx.AsyncClient) -> None:
    signed = await send(portal, "/signin", {"user": "vol-law-1"})
    assert signed.status_code == 303 and signed.headers["location"] == "/help"
    shown = await portal.get("/help")
    assert "请您帮扶的案件" in shown.text and 'href="/disputes"' not in shown.text
