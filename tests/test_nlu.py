"""The NLU pipeline: language detection, the fallback, and the real Rasa server."""

from __future__ import annotations

import pytest

from nlu.evaluate import evaluate
from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import RasaClient, RasaUnavailable
from nlu.trainingdata import TEST_DIR, read
from tests.conftest import free_port

LANGUAGE_CASES = [
    # Kazakh: with its letters, without them, in Latin (2021 and informal), mixed
    ("Дипломның телнұсқасын алу үшін қандай құжаттар керек?", "kk"),
    ("дипломнын телнускасын алу ушин кандай кужат керек", "kk"),
    ("ХКО канша уакытка дейин жумыс истейди", "kk"),
    ("Diplomnyń telnusqasyn qaıdan alamyn?", "kk"),
    ("grant alu ushin qandai qujattar kerek", "kk"),
    ("kezekke jazylgym keledi", "kk"),
    ("дубликат алу үшін документтер керек пе", "kk"),
    ("сәлеметсіз бе", "kk"),
    ("рахмет", "kk"),
    # Russian, with Kazakh loan words, and in Latin letters
    ("Какие документы нужны для дубликата диплома?", "ru"),
    ("ЦОН до скольки работает в субботу", "ru"),
    ("ХҚО до скольки работает", "ru"),
    ("kakie dokumenty nuzhny dlya granta", "ru"),
    ("где забрать готовый дубликат", "ru"),
    ("здравствуйте", "ru"),
    # Mixed: the language of the grammar, not of the nouns
    ("документы қандай керек?", "kk"),
    ("вуз закрылся вообще, телнұсқаны қайдан аламын?", "kk"),
    ("ЭЦП жоқ болса ше?", "kk"),
    ("qabyldau qashan bitedi", "kk"),
    ("statusyn tekserinizshi", "kk"),
    ("дубликат диплома где можно получить, телнұсқа", "ru"),
]


@pytest.mark.parametrize(("text", "lang"), LANGUAGE_CASES)
def test_language_detection(light: LightModels, text: str, lang: str) -> None:
    assert light.detect_language(text)[0] == lang


def test_fallback_classifier_ranks_obvious_questions(light: LightModels) -> None:
    from nlu.normalize import fold

    assert light.rank_intents(fold("какие документы нужны для дубликата"))[0][0] == "ask_documents"
    assert light.rank_intents(fold("ЦОН неше сағатқа дейін жұмыс істейді"))[0][0] == "ask_schedule"
    assert light.rank_intents(fold("соедините с оператором"))[0][0] == "request_operator"


async def test_degraded_mode_when_rasa_does_not_answer(light: LightModels) -> None:
    dead = RasaClient(f"http://127.0.0.1:{free_port()}", timeout=0.5, retries=1)
    with pytest.raises(RasaUnavailable):
        await dead.parse("сәлем")
    nlu = NLU(dead, light)
    try:
        result = await nlu.parse("какие документы нужны для дубликата диплома через ЦОН")
    finally:
        await nlu.close()
    assert result.degraded and result.source == "fallback"
    assert result.intent == "ask_documents"
    assert result.entity("service") == "duplicate"
    assert result.entity("channel") == "psc"
    assert result.language == "ru"


@pytest.mark.rasa
async def test_rasa_server_parses_both_languages(rasa_nlu: NLU) -> None:
    kk = await rasa_nlu.parse("ХҚО-ға телнұсқа алу үшін қандай құжаттар апару керек?")
    ru = await rasa_nlu.parse("Какие документы нужны для гранта через egov?")
    latin = await rasa_nlu.parse("diplom telnusqasyn alu ushin qandai qujat kerek")
    for r in (kk, ru, latin):
        assert not r.degraded and r.source == "rasa"
        assert r.intent == "ask_documents", r
        assert r.ranking and r.ranking[0]["name"] == "ask_documents"
    assert (kk.language, ru.language, latin.language) == ("kk", "ru", "kk")
    assert kk.entity("channel") == "psc" and kk.entity("service") == "duplicate"
    assert ru.entity("service") == "grant" and ru.entity("channel") == "portal"


@pytest.mark.rasa
async def test_rasa_finds_iin_and_application_number(rasa_nlu: NLU) -> None:
    r = await rasa_nlu.parse("статус заявки DUP-2026-00042, мой ИИН 870412300415")
    assert r.intent == "check_status"
    assert r.entity("application_number") == "DUP-2026-00042"
    assert r.entity("iin") == "870412300415"


@pytest.mark.rasa
@pytest.mark.slow
async def test_held_out_split_meets_the_bar(rasa_nlu: NLU) -> None:
    """`make eval`'s bar, on the split training never reads."""
    files = sorted(TEST_DIR.glob("*.yml"))
    assert files, "the held-out split is missing"
    report = await evaluate(rasa_nlu, files)
    assert report.degraded == 0
    assert report.by_language["kk"].accuracy >= 0.92
    assert report.by_language["ru"].accuracy >= 0.92
    assert report.translit.accuracy >= 0.85
    assert report.language_detection.accuracy >= 0.97


def test_test_split_is_not_in_training(light: LightModels) -> None:
    from nlu.normalize import fold
    from nlu.trainingdata import TRAIN_DIR

    train = {fold(e.text) for e in read([TRAIN_DIR]).examples}
    test = [fold(e.text) for e in read([TEST_DIR]).examples]
    leaked = [t for t in test if t in train]
    assert not leaked, leaked[:20]


@pytest.mark.rasa
async def test_a_repeated_message_is_parsed_once(rasa_nlu: NLU) -> None:
    """The second "здравствуйте, где сделать дубликат?" costs no Rasa call,
    gets the same parse, and what a caller changes in one parse does not
    reach the next."""
    before = rasa_nlu.stats.rasa_ok
    first = await rasa_nlu.parse("здравствуйте, где сделать дубликат диплома?")
    first.entities.append({"entity": "service", "value": "grant"})
    first.language = "kk"
    second = await rasa_nlu.parse("здравствуйте, где сделать дубликат диплома?")
    assert rasa_nlu.stats.rasa_ok == before + 1
    assert second.intent == first.intent and second.confidence == first.confidence
    assert second.language == "ru" and second.entity("service") == "duplicate"
