"""Flows: multi-step activities (booking a slot, filling an application,
talking to a person) plugged into the assistant.

A flow owns a set of intents, a button-payload prefix ("bk:", "app:" ...)
and, while it is the conversation's active flow, the citizen's free text
(form fields must not go through intent classification). Flows are
channel-agnostic like the assistant: they return `Outcome`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from actions.events import Outcome, Reply
from actions.i18n import Translator
from actions.state import Conversation

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase
    from knowledge.calendar import Calendar
    from nlu.pipeline import ParseResult


# Words that make a clause a question (on folded text: nlu.normalize.fold).
QUESTION_RE = re.compile(
    r"\b(?:какие|какой|какая|куда|где|когда|сколько|как|можно|нужно|нужен|нужна|ли|"
    r"кандаи|каида|каидан|кашан\w*|канша\w*|калаи|кимге|керек|бола|ма|ме|ба|бе|па|пе|ше|бар\s+ма)\b|\?"
)


@dataclass
class FlowContext:
    user_id: int
    lang: str
    conv: Conversation
    t: Translator
    kb: KnowledgeBase
    calendar: Calendar
    clock: Callable[[], datetime]
    parsed: ParseResult | None = None

    def reply(self, key: str, **args: Any) -> Reply:
        return Reply(self.t(self.lang, key, **args))

    def outcome(self, replies: list[Reply], intent: str | None = None) -> Outcome:
        return Outcome(replies, self.lang, intent)

    # The active flow's own data (survives between messages, in the state store).
    def start(self, flow: str, data: dict[str, Any] | None = None) -> None:
        self.conv.flow = flow
        self.conv.flow_data = dict(data or {})

    def finish(self) -> None:
        self.conv.flow = None
        self.conv.flow_data = {}


class Flow(Protocol):
    name: str  # the payload prefix and the value of Conversation.flow
    intents: frozenset[str]

    async def on_intent(self, ctx: FlowContext, intent: str) -> Outcome:
        """The citizen asked for something this flow does (ctx.parsed is set)."""
        ...

    async def on_button(self, ctx: FlowContext, payload: str) -> Outcome:
        """A button of this flow ("<name>:...") was pressed."""
        ...

    async def on_text(self, ctx: FlowContext, text: str) -> Outcome | None:
        """Free text while this flow is active. None: not for me, let the
        assistant understand it (the flow stays active unless it finished)."""
        ...
