"""A first contact in the Telegram app's language, until the citizen writes or chooses."""

from __future__ import annotations

from actions.assistant import Assistant
from actions.events import Event
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU


async def test_first_button_follows_the_app_language(
    light: LightModels, kb: KnowledgeBase, calendar: Calendar
) -> None:
    assistant = Assistant(NLU(None, light), kb, calendar)
    ru = await assistant.handle(Event(91001, button="menu", lang_hint="ru"))
    kk = await assistant.handle(Event(91002, button="menu", lang_hint="kk"))
    other = await assistant.handle(Event(91003, button="menu", lang_hint="en"))
    assert (ru.lang, kk.lang, other.lang) == ("ru", "kk", "kk")
    assert "Я помогаю" in ru.replies[0].text
    # a chosen language wins over the app's
    await assistant.set_language(91001, "kk")
    again = await assistant.handle(Event(91001, button="menu", lang_hint="ru"))
    assert again.lang == "kk"
