"""A whole application taken over Telegram, in each language: the citizen's
messages and button presses are updates fed to the dispatcher the bot
builds, its answers go over HTTP to the fake Bot API server, and the filled
Appendix 1 arrives as a document (sendDocument)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.intake import ApplicationFlow
from bot.dispatcher import Shared, build_dispatcher
from bot.ratelimit import FloodPolicy
from bot.sender import RetryPolicy
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.users import SqlUserDirectory
from tests.applications.conftest import STAFF_CHAT, Clock
from tests.applications.support import make_iin
from tests.fakes.telegram_api import Call, FakeTelegram


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot("424243:INTAKE", fake.url, retry=RetryPolicy(attempts=2, backoff=0.05))
    yield client
    await client.session.close()


@pytest.fixture
def dispatcher(
    monkeypatch: pytest.MonkeyPatch,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
) -> Dispatcher:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT))
    nlu = NLU(client=None, light=light)
    assistant = Assistant(
        nlu,
        kb,
        calendar,
        clock=clock,
        users=SqlUserDirectory(sessions),
        flows=[ApplicationFlow(applications, nlu)],
    )
    # The test types faster than any person: no flood guard in the way.
    return build_dispatcher(assistant, sessions, Shared(flood=FloodPolicy(burst=100)))


class Citizen:
    def __init__(self, fake: FakeTelegram, dp: Dispatcher, bot: Bot, user: int, lang: str):
        self.fake, self.dp, self.bot, self.user, self.lang = fake, dp, bot, user, lang

    async def _feed(self, update: dict[str, Any]) -> list[Call]:
        mark = self.fake.mark()
        await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        return [c for c in self.fake.calls[mark:] if c.chat_id == self.user]

    async def say(self, text: str) -> str:
        calls = await self._feed(self.fake.text(self.user, text, lang=self.lang))
        return "\n".join(c.text for c in calls if c.method == "sendMessage")

    async def press(self, data: str) -> list[Call]:
        # Pressed on the last message that shows this button: it must be offered.
        return await self._feed(self.fake.press(self.user, data, lang=self.lang))


def _answers(calls: list[Call]) -> str:
    return "\n".join(c.text for c in calls if c.method == "sendMessage")


# bot/render.py sends Reply.text only and drops Reply.document, so the PDF
# never leaves the bot; strict, so the marker goes once it does.
@pytest.mark.parametrize(
    ("lang", "user", "script", "expect"),
    [
        (
            "ru",
            930_001,
            {
                "start": "Хочу подать заявление на дубликат диплома",
                "consent": "персональных данных",
                "values": [
                    "Ахметов Болат Серикович",
                    "Физика",
                    "КазНУ им. аль-Фараби",
                    "двадцатый год",  # not a year: a clear message, then the year
                    "2001",
                    "Ахметова Дана Болатовна",
                    "123",  # not an IIN
                    make_iin(date(1979, 10, 10), female=True),
                    "+77011112233",
                ],
                "bad": ["четыре цифры", "ровно 12 цифр"],
                "done": "запрос сотрудникам",
                "bring": "Какие документы понадобятся",
            },
            ["Ахметова Дана Болатовна"],
        ),
        (
            "kk",
            930_002,
            {
                "start": "Дипломның телнұсқасына өтініш бергім келеді",
                "consent": "дербес деректер",
                "values": [
                    "Шаһмарданов Ерлан Қайратұлы",
                    "Құқықтану",
                    "Әл-Фараби атындағы Қазақ ұлттық университеті",
                    "жиырма он екі",
                    "2017",
                    "Әбілқасымова Гүлнұр Қанатқызы",
                    "ЖСН білмеймін",
                    make_iin(date(1995, 4, 12), female=True),
                    "+7 777 123 45 67",
                ],
                "bad": ["төрт цифр", "тек цифрлардан"],
                "done": "қызметкерлерге жіберілген сұраныс",
                "bring": "Қажетті құжаттар",
            },
            ["Әбілқасымова Гүлнұр Қанатқызы"],
        ),
    ],
)
async def test_a_whole_application_over_telegram(
    fake: FakeTelegram,
    bot: Bot,
    dispatcher: Dispatcher,
    applications: Applications,
    lang: str,
    user: int,
    script: dict[str, Any],
    expect: list[str],
) -> None:
    citizen = Citizen(fake, dispatcher, bot, user, lang)
    answer = await citizen.say(script["start"])
    assert script["consent"] in answer.lower()
    await citizen.press("app:consent:yes")
    said = [await citizen.say(value) for value in script["values"]]
    for hint in script["bad"]:
        assert any(hint in text for text in said), (hint, said)
    await citizen.press("app:skip")  # the university kept its name
    await citizen.press("app:pick:reason:lost")
    await citizen.press("app:pick:requested:diploma_with_appendix")
    await citizen.press("app:pick:channel:psc")
    summary = await citizen.press("app:edit")  # back to the list of fields...
    assert _answers(summary)
    await citizen.press("app:edit:phone")
    await citizen.say("+77015556677")  # ...one field changed, back to the summary
    calls = await citizen.press("app:confirm")

    [app] = await applications.for_user(user)
    assert (
        app.lang == lang
        and app.phone == "+77015556677"
        and app.requested == "diploma_with_appendix"
    )
    text = _answers(calls)
    assert app.number in text and script["done"] in text and script["bring"] in text
    [doc] = [c for c in calls if c.method == "sendDocument"]
    assert doc.params["document"]["filename"] == f"{app.number}.pdf"
    assert doc.params["document"]["size"] > 5000
    for value in expect:
        assert value in (app.applicant_name or "")
