"""The knowledge base: facts from order No. 654 only, cited, in proper Kazakh and Russian."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from knowledge.base import (
    CHANNELS,
    INTENTS,
    SERVICES,
    Entry,
    KnowledgeBase,
    KnowledgeError,
)

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = REPO / "data" / "knowledge"
SEED_NAME = "order-654-2015-kk.txt"

KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
# Proper names Russian text may keep in Kazakh spelling.
RU_ALLOWED_KAZAKH_WORDS = ("ХҚО",)
ALLOWED_URLS = {"www.egov.kz", "www.edu.gov.kz"}
ALLOWED_PHONES = {"8 800 080 7777"}


def seed_path() -> Path | None:
    env = os.environ.get("SEED_PATH")
    candidates = [Path(env)] if env else []
    candidates += [
        REPO / "data" / "seed" / SEED_NAME,
        REPO / "seed" / SEED_NAME,
        REPO.parent / "shared" / "seed" / SEED_NAME,
    ]
    for candidate in candidates:
        path = candidate if candidate.is_absolute() else REPO / candidate
        if path.is_file():
            return path
    return None


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def texts(kb: KnowledgeBase):
    for entry in kb.entries:
        for lang in ("kk", "ru"):
            yield entry, lang, entry.text[lang]


def one(kb: KnowledgeBase, intent: str, service: str, channel: str | None = None) -> Entry:
    found = kb.find(intent, service, channel)
    assert len(found) == 1, (intent, service, channel, [e.id for e in found])
    return found[0]


# -- every entry ---------------------------------------------------------------


def test_loads_entries_from_both_service_files(kb: KnowledgeBase) -> None:
    ids = [entry.id for entry in kb.entries]
    assert len(ids) == len(set(ids))
    assert any(i.startswith("duplicate.") for i in ids)
    assert any(i.startswith("grant.") for i in ids)
    assert any(i.startswith("social_support.") for i in ids)


def test_every_entry_has_kazakh_and_russian_text(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        assert entry.text["kk"].strip(), entry.id
        assert entry.text["ru"].strip(), entry.id
        assert entry.text["kk"] != entry.text["ru"], entry.id


def test_russian_text_has_no_kazakh_letters(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        text = entry.text["ru"]
        for name in RU_ALLOWED_KAZAKH_WORDS:
            text = text.replace(name, "")
        stray = KAZAKH_LETTERS & set(text)
        assert not stray, (entry.id, stray)
        assert re.search("[а-яё]{3}", text), entry.id


def test_kazakh_text_is_kazakh(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        assert KAZAKH_LETTERS & set(entry.text["kk"]), entry.id


def test_texts_are_short_plain_messages(kb: KnowledgeBase) -> None:
    for entry, lang, text in texts(kb):
        lines = text.splitlines()
        # Answers are 2-8 lines; only the full document lists run longer.
        limit = 12 if "ask_documents" in entry.intents else 8
        assert 1 <= len(lines) <= limit, (entry.id, lang, len(lines))
        for line in lines:
            assert not re.match(r"\s*([-*+]|#+)\s", line), (entry.id, lang, line)
        for marker in ("**", "__", "`", "<", ">", "[", "]("):
            assert marker not in text, (entry.id, lang, marker)


def test_only_urls_and_phones_from_the_seed(kb: KnowledgeBase) -> None:
    for entry, lang, text in texts(kb):
        urls = set(re.findall(r"(?:https?://)?www\.[\w.-]+\w", text))
        assert urls <= ALLOWED_URLS, (entry.id, lang, urls)
        phones = set(re.findall(r"\+?\d[\d -]{6,}\d", text))
        assert phones <= ALLOWED_PHONES, (entry.id, lang, phones)
        assert "http" not in text, (entry.id, lang)


def test_cited_and_unknown_entries(kb: KnowledgeBase) -> None:
    for entry in kb.entries:
        if entry.unknown:
            assert entry.citation is None, entry.id
            # An honest "the order does not say"; somewhere to turn (the
            # operator button) is added by the assistant to every such answer.
            assert "654" in entry.text["ru"] or "приказ" in entry.text["ru"], entry.id
        else:
            assert entry.citation is not None, entry.id
            assert entry.citation.standard in kb.standards, entry.id


def _seed_sections(text: str) -> dict[str, str]:
    """Split the seed into the duplicate standard, the grant standard and the order."""
    duplicate_start = text.index('құжаттардың телнұсқаларын беру" мемлекеттік көрсетілетін')
    grant_start = text.index('"Білім беруге гранттарды тағайындау')
    order_points = text.index("\n2. Жоғары, жоғары оқу")
    return {
        "duplicate": text[duplicate_start:grant_start],
        "grant": text[grant_start:order_points],
        "order": text[:duplicate_start] + text[order_points:],
    }


def test_cited_clauses_exist_in_the_seed(kb: KnowledgeBase) -> None:
    path = seed_path()
    if path is None:
        pytest.skip("seed text not found (set SEED_PATH)")
    sections = _seed_sections(path.read_text(encoding="utf-8"))
    citations = [(e.id, e.citation) for e in kb.entries if e.citation is not None]
    citations += [(f"form.{f.key}", f.citation) for f in kb.form.fields]
    citations.append(("form", kb.form.citation))
    for entry_id, citation in citations:
        section = sections[citation.standard]
        if citation.is_appendix:
            assert citation.clause in section, (entry_id, citation.clause)
            continue
        for number in citation.clauses:
            pattern = rf"(^|[\"\s]){number}\.\s|{number}-тармақ"
            assert re.search(pattern, section, re.MULTILINE), (entry_id, citation.standard, number)


def test_citations_render_in_both_languages(kb: KnowledgeBase) -> None:
    psc = kb.get("duplicate.documents.psc").citation
    assert psc is not None
    ru = psc.render("ru", kb)
    assert ru.startswith("п. 9 (ЦОН, пп. 1-2) стандарта «Выдача дубликатов документов")
    assert ru.endswith("в ред. приказа МОН РК № 654 от 24.11.2015")
    kk = psc.render("kk", kb)
    assert "стандартының 9-тармағы (ХҚО-ға, 1)-2) тармақшалары)" in kk
    assert "№ 654 бұйрығымен енгізілген редакцияда" in kk
    legal = kb.get("duplicate.legal_basis").citation
    assert legal is not None
    assert legal.render("ru", kb) == "пункты 1, 4 приказа МОН РК № 654 от 24.11.2015"
    assert kb.form.citation.render("ru", kb) == "приложение 1 к приказу МОН РК № 654 от 24.11.2015"
    for entry in kb.entries:
        if entry.citation is not None:
            for lang in ("kk", "ru"):
                assert "654" in entry.citation.render(lang, kb), entry.id


# -- coverage ------------------------------------------------------------------

ANSWERED = {
    "duplicate": [
        "ask_where_to_apply", "ask_processing_time", "ask_result", "ask_schedule",
        "ask_queue_rules", "book_queue", "ask_documents", "ask_university_closed",
        "ask_representative", "ask_pickup", "complaint", "ask_home_visit", "check_status",
        "ask_contacts", "ask_eds", "ask_application_form", "ask_legal_basis",
    ],
    "grant": [
        "ask_where_to_apply", "ask_processing_time", "ask_application_period", "ask_result",
        "ask_pickup", "ask_schedule", "ask_queue_rules", "book_queue", "ask_documents",
        "ask_eds", "ask_legal_basis", "ask_application_form", "check_status",
    ],
    "social_support": [
        "ask_where_to_apply", "ask_processing_time", "ask_result", "ask_schedule",
        "ask_queue_rules", "book_queue", "ask_documents", "ask_eds", "ask_legal_basis",
        "ask_application_form",
    ],
}  # fmt: skip
NOT_IN_SEED = {
    "duplicate": ["ask_fee", "ask_refusal"],
    "grant": ["ask_fee", "ask_refusal", "ask_contacts", "complaint"],
    "social_support": ["ask_fee", "ask_refusal", "ask_contacts", "complaint"],
}


@pytest.mark.parametrize(
    ("service", "intent"), [(s, i) for s, intents in ANSWERED.items() for i in intents]
)
def test_answered_pairs_have_one_cited_general_entry(
    kb: KnowledgeBase, service: str, intent: str
) -> None:
    entry = one(kb, intent, service)
    assert entry.is_general and not entry.unknown and entry.citation is not None


@pytest.mark.parametrize(
    ("service", "intent"), [(s, i) for s, intents in NOT_IN_SEED.items() for i in intents]
)
def test_gaps_in_the_seed_are_marked_unknown(kb: KnowledgeBase, service: str, intent: str) -> None:
    assert one(kb, intent, service).unknown


def test_addresses_are_unknown_but_the_contact_centre_is_cited(kb: KnowledgeBase) -> None:
    general = one(kb, "ask_contacts", "duplicate")
    assert not general.unknown and "1414" in general.text["ru"]
    for channel in ("provider", "psc"):
        addresses = one(kb, "ask_contacts", "duplicate", channel)
        assert addresses.unknown and "14" in addresses.text["ru"]
    complaint = one(kb, "complaint", "duplicate").text
    assert "14" in complaint["ru"] and "не приводится" in complaint["ru"]


def test_intent_names_match_the_contract() -> None:
    intents_md = REPO / "data" / "nlu" / "INTENTS.md"
    if not intents_md.is_file():
        pytest.skip("INTENTS.md not present")
    names = set(re.findall(r"^\| ([a-z_]+) \|", intents_md.read_text(encoding="utf-8"), re.M))
    names.discard("intent")
    assert names == set(INTENTS)


# -- find() and friends --------------------------------------------------------


def test_find_general_and_channel_specific(kb: KnowledgeBase) -> None:
    assert one(kb, "ask_documents", "duplicate").id == "duplicate.documents"
    assert one(kb, "ask_documents", "duplicate", "psc").id == "duplicate.documents.psc"
    assert one(kb, "ask_documents", "duplicate", "portal").id == "duplicate.documents.portal"
    # No ЦОН-specific grant answer: the general one, which says where to go instead.
    assert one(kb, "ask_where_to_apply", "grant", "psc").id == "grant.where_to_apply"
    assert one(kb, "ask_schedule", "social_support", "provider").id == "grant.schedule.provider"


def test_find_without_service_gives_each_services_general_entry_once(kb: KnowledgeBase) -> None:
    ids = [entry.id for entry in kb.find("ask_schedule")]
    assert ids == ["duplicate.schedule", "grant.schedule"]
    assert all(entry.is_general for entry in kb.find("ask_documents"))
    assert {e.id for e in kb.find("ask_documents", channel="portal")} == {
        "duplicate.documents.portal",
        "grant.documents.portal",
        "social_support.documents",
    }


def test_find_nothing_and_bad_arguments(kb: KnowledgeBase) -> None:
    assert kb.find("greet") == []
    assert kb.find("ask_home_visit", "grant") == []
    with pytest.raises(ValueError):
        kb.find("ask_documents", "passport")
    with pytest.raises(ValueError):
        kb.find("ask_documents", "duplicate", "telegram")


def test_services_and_channels_for(kb: KnowledgeBase) -> None:
    assert kb.services_for("ask_documents") == SERVICES
    assert kb.services_for("ask_home_visit") == {"duplicate"}
    assert kb.services_for("greet") == set()
    assert kb.channels_for("ask_schedule", "duplicate") == CHANNELS
    assert kb.channels_for("ask_schedule", "grant") == {"provider", "portal"}
    assert kb.channels_for("ask_home_visit", "duplicate") == set()


def test_get(kb: KnowledgeBase) -> None:
    assert kb.get("duplicate.home_visit").intents == ("ask_home_visit",)
    with pytest.raises(KeyError):
        kb.get("no.such.entry")


# -- key facts -----------------------------------------------------------------


def test_duplicate_processing_time(kb: KnowledgeBase) -> None:
    text = one(kb, "ask_processing_time", "duplicate").text
    assert "30" in text["kk"] and "күнтізбелік" in text["kk"]
    assert "30" in text["ru"] and "календарн" in text["ru"]
    assert "ЦОН" in text["ru"] and "не входит" in text["ru"]


def test_grant_terms(kb: KnowledgeBase) -> None:
    for intent in ("ask_processing_time", "ask_application_period"):
        text = one(kb, intent, "grant").text
        assert "23" in text["kk"] and "31" in text["kk"] and "шілде" in text["kk"]
        assert "23" in text["ru"] and "31" in text["ru"] and "июля" in text["ru"]
    text = one(kb, "ask_processing_time", "grant").text
    assert "15 тамыз" in text["kk"] and "15 августа" in text["ru"]
    assert "15 минут" in text["ru"]


def test_psc_schedule(kb: KnowledgeBase) -> None:
    text = one(kb, "ask_schedule", "duplicate", "psc").text
    for lang in ("kk", "ru"):
        assert "09:00" in text[lang] or "9.00" in text[lang]
        assert "20:00" in text[lang] or "20.00" in text[lang]
    assert "без обеденного перерыва" in text["ru"]


def test_grant_schedule(kb: KnowledgeBase) -> None:
    text = one(kb, "ask_schedule", "grant").text["ru"]
    assert "09:00" in text and "18:30" in text and "13:00" in text and "14:30" in text


def test_home_visit(kb: KnowledgeBase) -> None:
    for lang in ("kk", "ru"):
        text = one(kb, "ask_home_visit", "duplicate").text[lang]
        assert "1414" in text and "8 800 080 7777" in text


def test_pickup_storage(kb: KnowledgeBase) -> None:
    text = one(kb, "ask_pickup", "duplicate").text
    assert "3 ай" in text["kk"] or "үш ай" in text["kk"]
    assert "3 месяц" in text["ru"] or "три месяц" in text["ru"]
    assert "7 рабочих дней" in text["ru"] and "доверенност" in text["ru"]


def test_complaint_terms(kb: KnowledgeBase) -> None:
    text = one(kb, "complaint", "duplicate").text
    assert "5 жұмыс күні" in text["kk"] and "15 жұмыс күні" in text["kk"]
    assert "5 рабочих дней" in text["ru"] and "15 рабочих дней" in text["ru"]


def test_grant_cannot_be_booked(kb: KnowledgeBase) -> None:
    text = one(kb, "book_queue", "grant").text
    assert "без предварительной записи" in text["ru"]
    assert "алдын ала жазылусыз" in text["kk"]
    assert "портал" in one(kb, "book_queue", "duplicate").text["ru"]


def test_grant_document_counts(kb: KnowledgeBase) -> None:
    in_person = one(kb, "ask_documents", "grant", "provider").text["ru"]
    assert re.findall(r"^(\d+)\)", in_person, re.M) == [str(n) for n in range(1, 11)]
    portal = one(kb, "ask_documents", "grant", "portal").text["ru"]
    assert portal.count("•") == 6
    social = one(kb, "ask_documents", "social_support").text["ru"]
    assert social.count("•") == 5


def test_legal_basis_says_the_order_is_repealed(kb: KnowledgeBase) -> None:
    for service in SERVICES:
        text = one(kb, "ask_legal_basis", service).text
        for number in ("654", "186", "286"):
            assert number in text["kk"] and number in text["ru"], (service, number)
        assert "утратил силу" in text["ru"] and "күші жойылған" in text["kk"]


def test_act_and_standards(kb: KnowledgeBase) -> None:
    act = kb.act
    assert (act.number, act.date.isoformat()) == ("654", "2015-11-24")
    assert (act.registered.number, act.registered.date.isoformat()) == ("12509", "2015-12-25")
    assert (act.amends.number, act.repealed_by.number) == ("186", "286")
    assert "Күшін жойған" in act.status["kk"] and "286" in act.status["kk"]
    assert "Утратил силу" in act.status["ru"] and "286" in act.status["ru"]
    assert set(kb.standards) == {"duplicate", "grant", "order"}
    assert "«Выдача дубликатов" in kb.standard_title("duplicate", "ru")
    assert "гранттарды тағайындау" in kb.standard_title("grant", "kk")
    with pytest.raises(ValueError):
        kb.standard_title("grant", "en")


def test_application_form(kb: KnowledgeBase) -> None:
    form = kb.form
    assert form.standard == "duplicate"
    assert [f.key for f in form.fields] == [
        "university_head_name", "specialty", "university_and_graduation_year",
        "applicant_full_name", "applicant_contacts", "university_name_address_if_changed",
        "reason", "requested", "date", "signature",
    ]  # fmt: skip
    assert all(f.citation.is_appendix and f.citation.standard == "order" for f in form.fields)
    assert [r.key for r in form.reasons] == ["lost", "name_change", "unusable", "filling_errors"]
    assert [r.key for r in form.requested] == ["diploma", "diploma_with_appendix", "appendix"]
    for option in (*form.fields, *form.reasons, *form.requested):
        assert KAZAKH_LETTERS & set(option.label["kk"]) or option.key == "date"
        assert not KAZAKH_LETTERS & set(option.label["ru"]), option.key


def test_what_the_order_leaves_out_is_left_to_the_operator_button(kb: KnowledgeBase) -> None:
    # The bot is 1414's own assistant: for what the order does not say it
    # offers its operator button (actions/assistant.py adds the line), and
    # never sends the citizen off to "check it with 1414" in its own words.
    advice = re.compile(r"уточн|нақтыла|сұраңыз|қойыңыз", re.IGNORECASE)
    for entry in kb.entries:
        for lang in ("kk", "ru"):
            for sentence in re.split(r"(?<=[.!?])\s+", entry.text[lang]):
                if "1414" in sentence and entry.id != "grant.contacts":
                    assert not advice.search(sentence), (entry.id, sentence)
    silent = {e.id for e in kb.entries if e.offers_staff}
    assert {"duplicate.fee", "grant.refusal", "duplicate.university_closed"} <= silent
    assert "duplicate.documents" not in silent


# -- the loader refuses broken data --------------------------------------------

GOOD_ENTRY = """
  - id: test.good
    intents: [ask_documents]
    services: [duplicate]
    cite: {standard: duplicate, clause: "9"}
    text: {kk: "Құжаттар", ru: "Документы"}
"""

BROKEN = {
    "missing_language": GOOD_ENTRY.replace(', ru: "Документы"', ""),
    "missing_cite": GOOD_ENTRY.replace('    cite: {standard: duplicate, clause: "9"}\n', ""),
    "unknown_intent": GOOD_ENTRY.replace("ask_documents", "ask_weather"),
    "unknown_service": GOOD_ENTRY.replace("[duplicate]", "[passport]"),
    "unknown_channel": GOOD_ENTRY.replace("    cite:", "    channels: [telegram]\n    cite:"),
    "unknown_standard": GOOD_ENTRY.replace("standard: duplicate", "standard: pension"),
    "bad_sub": GOOD_ENTRY.replace('clause: "9"', 'clause: "9", sub: "somewhere"'),
    "unknown_with_cite": GOOD_ENTRY.replace("    cite:", "    unknown: true\n    cite:"),
    "staff_not_a_flag": GOOD_ENTRY.replace("    cite:", "    staff: maybe\n    cite:"),
    "unknown_with_staff": GOOD_ENTRY.replace(
        '    cite: {standard: duplicate, clause: "9"}\n', "    unknown: true\n    staff: true\n"
    ),
    "needs_unfolded": GOOD_ENTRY.replace("    cite:", "    needs: [Түпнұсқа]\n    cite:"),
    "needs_not_a_list": GOOD_ENTRY.replace("    cite:", "    needs: оригинал\n    cite:"),
    "when_on_a_general_answer": GOOD_ENTRY.replace("    cite:", "    when: true\n    cite:"),
    "misspelt_key": GOOD_ENTRY.replace("services:", "service:"),
    "duplicate_id": GOOD_ENTRY + GOOD_ENTRY.replace("ask_documents", "ask_eds"),
    "two_general": GOOD_ENTRY + GOOD_ENTRY.replace("test.good", "test.other"),
}


def _knowledge_copy(tmp_path: Path, entries: str) -> Path:
    for name in ("source.yml", "appendix1.yml"):
        shutil.copy(KNOWLEDGE_DIR / name, tmp_path / name)
    (tmp_path / "broken.yml").write_text("entries:\n" + entries, encoding="utf-8")
    return tmp_path


def test_loader_accepts_a_good_file(tmp_path: Path) -> None:
    kb = KnowledgeBase.load(_knowledge_copy(tmp_path, GOOD_ENTRY))
    assert [entry.id for entry in kb.entries] == ["test.good"]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_loader_rejects_a_broken_entry(tmp_path: Path, case: str) -> None:
    directory = _knowledge_copy(tmp_path, BROKEN[case])
    with pytest.raises(KnowledgeError) as error:
        KnowledgeBase.load(directory)
    message = str(error.value)
    assert "broken.yml" in message
    assert "test." in message, message


def test_loader_rejects_a_general_entry_clashing_across_files(tmp_path: Path) -> None:
    directory = _knowledge_copy(tmp_path, GOOD_ENTRY)
    shutil.copy(KNOWLEDGE_DIR / "duplicate.yml", directory / "duplicate.yml")
    with pytest.raises(KnowledgeError, match=r"duplicate\.documents|test\.good"):
        KnowledgeBase.load(directory)


def test_loader_rejects_a_missing_source(tmp_path: Path) -> None:
    directory = _knowledge_copy(tmp_path, GOOD_ENTRY)
    (directory / "source.yml").unlink()
    with pytest.raises(KnowledgeError, match="source.yml"):
        KnowledgeBase.load(directory)
