"""The portal's pages without the services: sign-in, the language switch, an API that is down."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.settings import Settings
from services.common.units import load_units
from services.portal.app import create_app
from services.portal.client import SERVICES, Api
from services.portal.session import load_demo_users
from services.portal.web import Portal

# Nothing listens on port 9 of the loopback: every service is "down".
DOWN = "http://127.0.0.1:9"


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
    client = await _client(Settings(environment="development"))
    async with client:
        yield client


async def test_signing_in_keeps_the_token_in_an_httponly_samesite_cookie(
    portal: httpx.AsyncClient,
) -> None:
    listed = await portal.get("/signin")
    assert listed.status_code == 200 and 'data-user="rep-p01"' in listed.text
    signed = await portal.post("/signin", data={"user": "rep-p01"})
    assert signed.status_code == 303 and signed.headers["location"] == "/grievances"
    cookie = signed.headers["set-cookie"].lower()
    assert cookie.startswith("tz_session=") and "httponly" in cookie and "samesite=lax" in cookie


async def test_a_service_that_is_down_is_told_in_words_and_the_form_keeps_its_input(
    portal: httpx.AsyncClient,
) -> None:
    await portal.post("/signin", data={"user": "rep-p01"})
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
    sent = await portal.post("/grievances/new", data=typed)
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
        refused = await client.post("/signin", data={"user": "rep-p01"})
        assert refused.status_code == 403 and "tz_session" not in refused.cookies


async def test_pages_behind_sign_in_send_visitors_to_sign_in(portal: httpx.AsyncClient) -> None:
    for path in ("/grievances", "/suggestions", "/disputes", "/audit", "/dashboard"):
        response = await portal.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/signin"), path


async def test_an_auditor_is_told_in_words_when_the_audit_service_is_down(
    portal: httpx.AsyncClient,
) -> None:
    await portal.post("/signin", data={"user": "aud"})
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
    await portal.post("/signin", data={"user": "fup-1"})
    listed = await portal.get("/followups")
    assert listed.status_code == 200 and "跟踪回访服务暂时无法连接" in listed.text
    sent = await portal.post(
        "/followups/FUP-ABCD1234/contact", data={"satisfaction": "satisfied", "comment": ""}
    )
    assert sent.status_code == 503 and "跟踪回访服务暂时无法连接" in sent.text
    board = await portal.get("/dashboard")
    assert "跟踪回访服务暂时无法连接" in board.text


async def test_the_library_pages_say_so_when_the_library_is_down(
    portal: httpx.AsyncClient,
) -> None:
    await portal.post("/signin", data={"user": "med-1"})
    for path in ("/library", "/volunteers", "/help"):
        shown = await portal.get(path)
        assert shown.status_code == 200 and "台账暂时无法连接" in shown.text, path
    board = await portal.get("/dashboard")
    assert "以案说法服务暂时无法连接" in board.text


async def test_a_volunteer_starts_on_their_help_requests(portal: httpx.AsyncClient) -> None:
    signed = await portal.post("/signin", data={"user": "vol-law-1"})
    assert signed.status_code == 303 and signed.headers["location"] == "/help"
    shown = await portal.get("/help")
    assert "请您帮扶的案件" in shown.text and 'href="/disputes"' not in shown.text
