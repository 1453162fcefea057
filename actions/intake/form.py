"""The application form's steps and their checks (no I/O).

The form follows Appendix 1 to the duplicate standard
(data/knowledge/appendix1.yml): the addressee block, the reason, what is
requested; plus the IIN (to find the diploma and to check a status by
number) and the place where the citizen will hand in and collect it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from actions import validators as v

CHANNEL_CHOICES = ("provider", "psc")


@dataclass(frozen=True)
class Step:
    key: str
    kind: str  # name | text | year | iin | phone | optional | choice
    limit: int = v.TEXT_MAX

    @property
    def is_choice(self) -> bool:
        return self.kind == "choice"

    @property
    def optional(self) -> bool:
        return self.kind == "optional"


STEPS: tuple[Step, ...] = (
    Step("university_head_name", "name", v.NAME_MAX),
    Step("specialty", "text", v.TEXT_MAX),
    Step("university", "text", v.ADDRESS_MAX),
    Step("graduation_year", "year"),
    Step("applicant_name", "name", v.NAME_MAX),
    Step("iin", "iin"),
    Step("phone", "phone"),
    Step("university_new", "optional", v.ADDRESS_MAX),
    Step("reason", "choice"),
    Step("requested", "choice"),
    Step("channel", "choice"),
)
BY_KEY = {s.key: s for s in STEPS}
KEYS = tuple(s.key for s in STEPS)
# Personal data: the citizen sees it whole (in the summary, to check it);
# anyone else sees it masked, like the staff reading the conversation that
# was handed over to them (actions/handoff.py).
MASKED: dict[str, Callable[[str], str]] = {
    "iin": v.mask_iin,
    "phone": v.mask_phone,
    "applicant_name": v.mask_name,
    "university_head_name": v.mask_name,
}


def step_number(key: str) -> int:
    return KEYS.index(key) + 1


def next_key(key: str) -> str | None:
    i = KEYS.index(key)
    return KEYS[i + 1] if i + 1 < len(KEYS) else None


def previous_key(key: str) -> str | None:
    i = KEYS.index(key)
    return KEYS[i - 1] if i > 0 else None


def first_missing(data: dict[str, Any]) -> str | None:
    for step in STEPS:
        if step.key not in data:
            return step.key
    return None


def check(step: Step, text: str, today: date) -> Any:
    """The clean value of `text` for `step`; raises validators.Invalid."""
    if step.kind == "name":
        return v.validate_full_name(text, step.limit)
    if step.kind in ("text", "optional"):
        return v.validate_text(text, step.limit)
    if step.kind == "year":
        return v.validate_year(text, today)
    if step.kind == "iin":
        return v.validate_iin(text, today)
    if step.kind == "phone":
        return v.validate_phone(text)
    raise ValueError(f"step {step.key} takes a button, not text")
