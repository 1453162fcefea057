"""The agent console through aiohttp's test client."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from actions.i18n import Translator
from bot.console.app import LoginThrottle, render
from storage import outbox
from storage.models import utcnow
from tests.console.conftest import LOGIN, ConsoleWorld, console_root, csrf_of, log_in

T = Translator()
Client = TestClient[web.Request, web.Application]


async def test_nothing_without_logging_in(client: Client, world: ConsoleWorld) -> None:
    resp = await client.get("/console/", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/login"
    for path in ("/console/api/handoffs", "/console/static/console.js"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status in (401, 404), path
    resp = await client.post("/console/api/suggest", json={"text": "документы"})
    assert resp.status == 401
    resp = await client.post(
        f"/console/api/applications/{world.numbers[0]}/status", json={"status": "in_review"}
    )
    assert resp.status == 401
    page = await (await client.get("/console/login")).text()
    assert world.numbers[0] not in page
    assert T("kk", "console-login-title") in page  # Kazakh first


async def test_wrong_password_is_refused(client: Client) -> None:
    status, page = await log_in(client, password="wrong password 1414")
    assert status == 401
    assert T("kk", "console-login-failed") in page
    assert "console_session" not in {c.key for c in client.session.cookie_jar}
    status, _ = await log_in(client, login="nobody")
    assert status == 401


async def test_login_sets_a_strict_httponly_session(client: Client) -> None:
    page = await client.get("/console/login")
    token = page.cookies["console_login"].value
    resp = await client.post(
        "/console/login",
        data={"csrf": token, "login": LOGIN, "password": "correct horse 1414"},
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = resp.cookies["console_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/console/"
    index = await client.get("/console/")
    text = await index.text()
    assert T("kk", "console-signed-in-as", login=LOGIN) in text
    assert "script-src 'self'" in index.headers["Content-Security-Policy"]
    # The login form without its token is refused (login CSRF).
    resp = await client.post("/console/login", data={"login": LOGIN, "password": "x" * 12})
    assert resp.status == 400


async def test_csrf_is_enforced_on_every_post(client: Client, world: ConsoleWorld) -> None:
    status, page = await log_in(client)
    assert status == 200
    token = csrf_of(page)
    resp = await client.post("/console/api/suggest", json={"text": "документы для дубликата"})
    assert resp.status == 403
    resp = await client.post(
        "/console/api/suggest",
        json={"text": "документы для дубликата"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert resp.status == 403
    resp = await client.post(
        f"/console/api/applications/{world.numbers[0]}/status",
        json={"status": "in_review"},
        headers={"X-CSRF-Token": token, "Origin": "http://evil.example"},
    )
    assert resp.status == 403
    assert (await world.applications.get(world.numbers[0])).status == "received"  # type: ignore[union-attr]
    # Logging out is a POST too.
    resp = await client.post("/console/logout", data={"csrf": "forged"}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.post("/console/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/console/", allow_redirects=False)
    assert resp.status == 303


async def test_suggestions_json(client: Client) -> None:
    _, page = await log_in(client)
    headers = {"X-CSRF-Token": csrf_of(page)}
    resp = await client.post(
        "/console/api/suggest",
        json={"text": "какие документы нужны для дубликата диплома", "lang": "auto"},
        headers=headers,
    )
    assert resp.status == 200
    data = await resp.json()
    assert data["language"] == data["answer_lang"] == "ru"
    first = data["suggestions"][0]
    assert (first["intent"], first["service"]) == ("ask_documents", "duplicate")
    assert first["citation"] and first["citation"] in first["message"]
    assert first["citation_line"] == T("ru", "cite-line", cite=first["citation"])
    assert 1 <= len(data["suggestions"]) <= 3
    # The same question answered in Kazakh for a Kazakh-speaking caller.
    resp = await client.post(
        "/console/api/suggest",
        json={"text": "какие документы нужны для дубликата диплома", "lang": "kk"},
        headers=headers,
    )
    kk = (await resp.json())["suggestions"][0]
    assert kk["lang"] == "kk" and kk["text"] != first["text"]
    assert "стандартының" in kk["citation"]
    resp = await client.post("/console/api/suggest", json={"text": "  "}, headers=headers)
    assert resp.status == 400


async def test_status_change_notifies_the_citizen(client: Client, world: ConsoleWorld) -> None:
    _, page = await log_in(client)
    headers = {"X-CSRF-Token": csrf_of(page)}
    number = world.numbers[0]
    assert f'data-number="{number}"' in page
    url = f"/console/api/applications/{number}/status"
    resp = await client.post(url, json={"status": "issued"}, headers=headers)
    assert resp.status == 409
    assert (await resp.json())["message"] == T("kk", "console-error-not-allowed")
    resp = await client.post(url, json={"status": "in_review"}, headers=headers)
    assert resp.status == 200
    data = await resp.json()
    assert data["status"] == "in_review"
    assert [o["value"] for o in data["next"]] == ["ready", "rejected"]
    resp = await client.post(url, json={"status": "ready"}, headers=headers)
    assert (await resp.json())["message"] == T("kk", "console-error-place-required")
    async with world.sessions() as session:
        assert (await outbox.count_by_status(session)).get("pending", 0) >= 1
    resp = await client.post(
        "/console/api/applications/DUP-1999-00001/status",
        json={"status": "in_review"},
        headers=headers,
    )
    assert resp.status == 404


async def test_language_switch(client: Client) -> None:
    await log_in(client)
    page = await (await client.get("/console/?lang=ru")).text()
    assert T("ru", "console-ask-title") in page
    page = await (await client.get("/console/")).text()  # remembered
    assert T("ru", "console-ask-title") in page


async def test_logins_are_throttled(world: ConsoleWorld) -> None:
    async with TestClient(TestServer(console_root(world, LoginThrottle(free=3)))) as client:
        for _ in range(3):
            status, _ = await log_in(client, password="wrong password 1414")
            assert status == 401
        status, page = await log_in(client)  # even the right password, for a while
        assert status == 429
        assert T("kk", "console-login-throttled") in page


def test_output_is_escaped() -> None:
    row = render(
        "handoff_row.html",
        id=1,
        lang="<b>",
        opened="\"'",
        topic="<script>alert(1)</script>",
        state="&",
    )
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert "&quot;&#x27;" in row and "&amp;" in row


async def test_undelivered_notifications_can_be_sent_again(
    client: Client, world: ConsoleWorld
) -> None:
    """A notification the bot was sending when it died (delivery unknown) is
    listed for staff, who can send it once more; a sent one is not listed."""
    async with world.sessions() as session, session.begin():
        lost = await outbox.enqueue(session, 7001, "Өтініш DUP-2026-00042 дайын", key="t:lost")
        sent = await outbox.enqueue(session, 7002, "Заявление готово к выдаче", key="t:sent")
        assert lost is not None and sent is not None
        now = utcnow()
        assert await outbox.claim(session, lost, "w1", now - timedelta(minutes=5), timedelta(1))
        assert await outbox.claim(session, sent, "w1", now, timedelta(minutes=2))
        assert await outbox.mark_sent(session, sent, "w1", now, 99)
    async with world.sessions() as session, session.begin():
        # The sender vanished mid-send: its lease ran out.
        assert await outbox.expire_leases(session, now + timedelta(days=2)) == 1

    _, page = await log_in(client)
    assert T("kk", "console-outbox-title") in page
    assert "Өтініш DUP-2026-00042 дайын" in page and T("kk", "console-outbox-unknown") in page
    assert "Заявление готово к выдаче" not in page
    assert f'class="resend" data-id="{lost}"' in page

    url = f"/console/api/outbox/{lost}/resend"
    assert (await client.post(url)).status == 403  # no CSRF token
    headers = {"X-CSRF-Token": csrf_of(page)}
    resp = await client.post(url, headers=headers)
    assert resp.status == 200
    assert (await resp.json())["message"] == T("kk", "console-outbox-requeued")
    async with world.sessions() as session:
        counts = await outbox.count_by_status(session)
    assert counts.get("pending") == 1 and "unknown" not in counts
    # Twice is once: the second press is refused, nothing is queued again.
    resp = await client.post(url, headers=headers)
    assert resp.status == 409
    resp = await client.post(f"/console/api/outbox/{sent}/resend", headers=headers)
    assert resp.status == 409
    page = await (await client.get("/console/")).text()
    assert T("kk", "console-outbox-empty") in page


async def test_a_broken_knowledge_edit_is_shown_to_editors(
    client: Client, world: ConsoleWorld
) -> None:
    """The bot keeps the last good knowledge (tests/faults); the people who
    edit it see on the console that their edit was refused, and why."""
    await log_in(client)
    page = await (await client.get("/console/")).text()
    assert 'class="notice"' not in page
    world.assistant.kb.last_error = "duplicate.yml: `intents` must be a non-empty list"
    world.assistant.kb.last_error_at = 1_764_000_000.0
    try:
        page = await (await client.get("/console/")).text()
    finally:
        world.assistant.kb.last_error = None
    assert 'class="notice"' in page and "duplicate.yml" in page
    assert "`intents` must be" in page
