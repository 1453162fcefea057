"""The agent console in a real browser (Debian's chromium driven by
Playwright): log in, ask, see suggestions, copy one, change an
application's status. Leaves a screenshot in build/console.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actions.i18n import Translator
from bot.console import console_site
from storage.handoffs import Handoffs
from tests.console.conftest import LOGIN, PASSWORD, ConsoleWorld
from tests.telegram.tg_support import free_port

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "console.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
T = Translator()

if not CHROMIUM.exists() and not IN_CI:
    pytest.skip("no /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)


async def test_agent_uses_the_console_in_a_browser(world: ConsoleWorld) -> None:
    from playwright.async_api import async_playwright, expect

    # An open Telegram hand-off for the hand-offs table.
    handoffs = Handoffs(world.sessions)
    opened = await handoffs.create(7_000_001, "kk", "asked", "ask_documents", 0.91)
    assert opened is not None
    await handoffs.placed(opened.id, -1001987654321, 42, 43)
    number = world.numbers[0]

    async with (
        console_site(
            world.assistant, world.sessions, port=free_port(), applications=world.applications
        ) as url,
        async_playwright() as pw,
    ):
        assert url is not None
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 1100})
            await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url[:-9])
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # Nothing without logging in: the login page, in Kazakh first.
            await page.goto(url)
            await expect(page.locator("h2")).to_have_text(T("kk", "console-login-title"))
            await page.get_by_role("link", name="Русский").click()
            await expect(page.locator("h2")).to_have_text(T("ru", "console-login-title"))
            await page.get_by_label(T("ru", "console-login")).fill(LOGIN)
            await page.get_by_label(T("ru", "console-password")).fill(PASSWORD)
            await page.get_by_role("button", name=T("ru", "console-sign-in")).click()
            await expect(page.locator("#ask h2")).to_have_text(T("ru", "console-ask-title"))

            # A Kazakh-speaking caller's question: ranked answers in Kazakh, with clauses.
            await page.locator("#question").fill(
                "дипломның телнұсқасын алу үшін қандай құжаттар керек"
            )
            await page.get_by_role("button", name=T("ru", "console-ask-button")).click()
            first = page.locator("#suggestions li.suggestion").first
            await expect(first.locator("h3")).to_contain_text(T("ru", "topic-ask_documents"))
            await expect(first.locator(".cite")).to_contain_text("стандартының")
            await expect(page.locator("#understood")).to_contain_text("Қазақша")
            await first.locator("button.copy").click()
            await expect(first.locator("button.copy")).to_have_text(T("ru", "console-copied"))
            copied = await page.evaluate("navigator.clipboard.readText()")
            assert "стандартының" in copied

            # The open hand-off is listed.
            await expect(page.locator("#handoff-rows")).to_contain_text(str(opened.id))

            # An application moves on: received -> in review.
            row = page.locator(f'#app-rows tr[data-number="{number}"]')
            await expect(row.locator(".status")).to_have_text(T("ru", "console-status-received"))
            await row.locator('select[name="status"]').select_option("in_review")
            await row.get_by_role("button", name=T("ru", "console-app-apply")).click()
            await expect(row.locator(".result")).to_have_text(T("ru", "console-app-changed"))
            await expect(row.locator(".status")).to_have_text(T("ru", "console-status-in_review"))
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert errors == []
        finally:
            await browser.close()

    app = await world.applications.get(number)
    assert app is not None and app.status == "in_review"
