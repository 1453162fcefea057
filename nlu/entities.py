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
    # the grant is awarded by competition: "құжаттарын конкурсқа қабылдамады"
    ("конкурс", "service", "grant"),
    # the admissions committee takes grant applications, not duplicates
    ("приемная комисс", "service", "grant"),
    ("приемнои комисс", "service", "grant"),
    ("приемную комисс", "service", "grant"),
    ("кабылдау комисс", "service", "grant"),
    # ...and it is the university's own office
    ("приемная комисс", "channel", "provider"),
    ("приемнои комисс", "channel", "provider"),
    ("приемную комисс", "channel", "provider"),
    ("кабылдау комисс", "channel", "provider"),
    # service: social support
    ("алеуметтик", "service", "social_support"),
    ("элеуметтик", "service", "social_support"),
    ("соцподдерж", "service", "social_support"),
    ("социальн", "service", "social_support"),
    # "соц поддержка", "соц. помощь", "соцпомощь", "соц көмек", "социалка"
    ("соц поддерж", "service", "social_support"),
    ("соц. поддерж", "service", "social_support"),
    ("соц.поддерж", "service", "social_support"),
    ("соц помощ", "service", "social_support"),
    ("соцпомощ", "service", "social_support"),
    ("соц комек", "service", "social_support"),
    ("соц колдау", "service", "social_support"),
    ("социалк", "service", "social_support"),
    ("стипенди", "service", "social_support"),
    ("шакирт", "service", "social_support"),
    # channel: psc
    ("цон", "channel", "psc"),
    ("хко", "channel", "psc"),
    # its older name, ХҚКО (Latin "HQKO", "HKKO")
    ("хкко", "channel", "psc"),
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
    # "e-gov" folds to "е гов"; "через интернет", "internet arqyly"
    ("е гов", "channel", "portal"),
    ("интернет", "channel", "portal"),
    # "через сайт подаст": the site people apply on is the portal
    ("саит", "channel", "portal"),
    # channel: provider (the university's office)
    ("канцеляр", "channel", "provider"),
    ("кенсе", "channel", "provider"),
    ("жоо", "channel", "provider"),
    ("вуз", "channel", "provider"),
    ("университет", "channel", "provider"),
    ("универ", "channel", "provider"),
    ("оку орн", "channel", "provider"),
)

# A diploma named with what happened to it (lost, torn, soaked, burned,
# stolen, an error in it, a changed surname, a closed university) or with a
# question about its new copy means the duplicate service, though the
# citizen never says "дубликат": "дипломда қате жазылған", "диплом порвался",
# "diplomymdy zhogaltyp aldym". Folded text; both must be in the message.
_DIPLOMA_RE = re.compile(r"\b(?:диплом|вкладыш)\w*")
_DUPLICATE_REASON_RE = re.compile(
    r"\b(?:"
    # ru: lost, stolen, burned, torn, soaked, spoiled, faded, chewed
    r"потер|утер|утрат|пропа|затер|украл|украд|краж|угна|сгор|погор|пожар|"
    r"порва|порван|разорв|изорв|надорв|рван|намок|намоч|размок|подмок|мокр|"
    r"залил|залит|затоп|испорт|повред|непригод|испачк|выцвел|пожелтел|стерл|"
    r"стерт|истреп|ветх|погрыз|изгрыз|сгрыз|разрисов|"
    # ru: an error, a changed name, a new one, restoring it, ready yet
    r"ошиб|опечат|неправильн|неверн|фамил|отчеств|замуж|девич|восстан|"
    r"нов(?:ыи|ого|ую|ая)\b|готов|закры|ликвид|"
    # kk (folded): lost, stolen, torn, soaked, burned, spoiled, chewed
    r"жогал|урла|жырт|малшын|дымкыл|су\b|суга\b|судан\b|куиип|куиди|куиген|"
    r"орт\b|ортте|булин|бузыл|жарамсыз|ескир|кемир|"
    # kk: an error, a changed surname, marriage, a new one, restoring, ready
    r"кате|тегим|тегимд|озгер|ауыстыр|турмыс|калпына|жана(?:сы|сын)?\b|"
    r"даиын|жабыл|тарат"
    r")\w*"
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
    diploma = _DIPLOMA_RE.search(folded)
    have_duplicate = any(f.entity == "service" and f.value == "duplicate" for _, f in hits)
    if diploma and not have_duplicate and _DUPLICATE_REASON_RE.search(folded):
        found = Found("service", "duplicate", diploma.group(0), "lexicon")
        hits.append((diploma.start(), found))
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
