"""Closed-class entities: canonical values, and a lexicon over folded text.

Rasa's DIET tags `service` and `channel`; its raw values (folded surface
forms) are mapped to the canonical values here. The lexicon also finds the
entities when the model missed them, so the dialogue never depends on one
tagger alone. IINs and application numbers are found by pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import fold

SERVICES = ("duplicate", "grant", "social_support")
CHANNELS = ("provider", "psc", "portal")

# Folded word prefixes -> (entity, value). Checked against each folded token.
_STEMS: tuple[tuple[str, str, str], ...] = (
    # service: duplicate
    ("дубликат", "service", "duplicate"),
    ("дублекат", "service", "duplicate"),
    ("телнуска", "service", "duplicate"),
    ("телинуска", "service", "duplicate"),
    ("телнуск", "service", "duplicate"),
    ("копия диплом", "service", "duplicate"),
    ("восстановить диплом", "service", "duplicate"),
    ("восстановления диплом", "service", "duplicate"),
    ("утерянн", "service", "duplicate"),
    ("утерян диплом", "service", "duplicate"),
    ("потерял диплом", "service", "duplicate"),
    ("потеряла диплом", "service", "duplicate"),
    ("дипломымды жогалт", "service", "duplicate"),
    ("жогалган диплом", "service", "duplicate"),
    # service: grant
    ("грант", "service", "grant"),
    ("гранд", "service", "grant"),
    # service: social support
    ("алеуметтик", "service", "social_support"),
    ("элеуметтик", "service", "social_support"),
    ("соцподдерж", "service", "social_support"),
    ("социальн", "service", "social_support"),
    ("стипенди", "service", "social_support"),
    ("шакирт", "service", "social_support"),
    # channel: psc
    ("цон", "channel", "psc"),
    ("хко", "channel", "psc"),
    ("хызмет корсету орталыг", "channel", "psc"),
    ("халыкка кызмет", "channel", "psc"),
    ("центр обслуживания", "channel", "psc"),
    ("госкорпорац", "channel", "psc"),
    # channel: portal
    ("егов", "channel", "portal"),
    ("егав", "channel", "portal"),
    ("портал", "channel", "portal"),
    ("электрондык укимет", "channel", "portal"),
    ("электронное правительств", "channel", "portal"),
    ("электронного правительств", "channel", "portal"),
    ("онлайн", "channel", "portal"),
    # channel: provider (the university's office)
    ("канцеляр", "channel", "provider"),
    ("кенсе", "channel", "provider"),
    ("жоо", "channel", "provider"),
    ("вуз", "channel", "provider"),
    ("университет", "channel", "provider"),
    ("универ", "channel", "provider"),
    ("оку орн", "channel", "provider"),
)

IIN_RE = re.compile(r"(?<!\d)(\d{12})(?!\d)")
APPLICATION_NUMBER_RE = re.compile(r"\b((?:DUP|GRT|SOC)-\d{4}-\d{4,6})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    entity: str
    value: str
    text: str
    source: str  # "rasa" | "lexicon" | "pattern"


def canonical(entity: str, raw_value: str) -> str | None:
    """Map a raw entity value from the model to its canonical value."""
    if entity == "service" and raw_value in SERVICES:
        return raw_value
    if entity == "channel" and raw_value in CHANNELS:
        return raw_value
    folded = fold(raw_value)
    for stem, ent, value in _STEMS:
        if ent == entity and stem in folded:
            return value
    return None


def lexicon(text: str) -> list[Found]:
    """Entities found by word stems in the folded text, in order of appearance."""
    folded = " " + fold(text) + " "
    hits: list[tuple[int, Found]] = []
    for stem, ent, value in _STEMS:
        for m in re.finditer(r"(?<=[\s\W])" + re.escape(stem), folded):
            hits.append((m.start(), Found(ent, value, stem, "lexicon")))
    hits.sort(key=lambda h: h[0])
    return [f for _, f in hits]


def patterns(text: str) -> list[Found]:
    found = [Found("iin", m.group(1), m.group(1), "pattern") for m in IIN_RE.finditer(text)]
    found += [
        Found("application_number", m.group(1).upper(), m.group(1), "pattern")
        for m in APPLICATION_NUMBER_RE.finditer(text)
    ]
    return found


def merge(rasa_entities: list[dict[str, object]], text: str) -> list[Found]:
    """Rasa's service/channel entities (canonicalised), then the lexicon's
    for any entity type Rasa did not find, then the patterns."""
    result: list[Found] = []
    for ent in rasa_entities:
        name = str(ent.get("entity", ""))
        if name not in ("service", "channel"):
            continue
        value = canonical(name, str(ent.get("value", "")))
        if value:
            result.append(Found(name, value, str(ent.get("value", "")), "rasa"))
    have = {(f.entity, f.value) for f in result}
    for f in lexicon(text):
        if (f.entity, f.value) not in have:
            result.append(f)
            have.add((f.entity, f.value))
    return result + patterns(text)
