"""What goes into the assistant and what comes out: no channel specifics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    text: str
    payload: str

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "payload": self.payload}


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # A file sent with this reply: (filename, content); the text is its caption.
    document: tuple[str, bytes] | None = None

    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [b.to_json() for b in self.flat_buttons()],
        }
        if self.document is not None:
            data["document"] = self.document[0]
        return data


@dataclass(frozen=True)
class Event:
    """One thing the citizen did: typed `text` or pressed a button (`button`)."""

    user_id: int
    text: str | None = None
    button: str | None = None
    # The channel's idea of the citizen's language (Telegram's app language)
    # for a first contact, before the citizen has written or chosen one.
    lang_hint: str | None = None


@dataclass
class Outcome:
    replies: list[Reply]
    lang: str
    intent: str | None = None
    confidence: float = 0.0
    degraded: bool = False
    # Where the understanding came from: "rasa", "fallback" (no Rasa server
    # answers), "slow" (Rasa did not answer this message in time), "rule".
    nlu_source: str = "rasa"
    # The knowledge units the replies give, the one the answer leads with first.
    units: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # The contract of `python -m bot chat --jsonl` (DESIGN.md): these keys.
        return {
            "replies": [r.to_json() for r in self.replies],
            "lang": self.lang,
            "intent": self.intent,
        }
