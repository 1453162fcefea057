import pytest

from nlu.normalize import MAX_CHARS, clean, fold, latin_to_cyrillic
from nlu.trainingdata import fold_annotated, parse_annotated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Kazakh with its letters, without them, and in Latin all meet.
        ("Қандай құжаттар керек?", "кандаи кужаттар керек?"),
        ("кандаи кужаттар керек?", "кандаи кужаттар керек?"),
        ("qandai qujattar kerek?", "кандаи кужаттар керек?"),
        ("Qandaı qujattar kerek?", "кандаи кужаттар керек?"),
        ("kandai kuzhattar kerek?", "кандаи кужаттар керек?"),
        # 2021 alphabet letters
        ("Diplomnyń telnusqasyn alý úshin", "дипломнын телнускасын алу ушин"),
        ("ǵımarat", "гимарат"),
        ("Qazaqstan Respýblıkasy", "казакстан республикасы"),
        # Russian in Latin letters
        ("kakie dokumenty nuzhny", "какие документы нужны"),
        ("gde zabrat dublikat", "где забрат дубликат"),
        # a case ending after a hyphen becomes its own token
        ("ХҚО-ға барсам", "хко га барсам"),
        ("ЦОН-да очередь", "цон да очередь"),
        # numbers stay as typed
        ("статус DUP-2026-00042 и 870412300415", "статус dup-2026-00042 и 870412300415"),
        # stretched letters and spaces
        ("спаасииибооо   !!!", "спаасиибоо !!!"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_clean_removes_invisible_and_control_characters() -> None:
    assert clean("сә\u200bлем\x00\x07 \ufeffбер") == "сәлем бер"


def test_long_noise_is_cut() -> None:
    assert len(clean("ж" * 4096)) == MAX_CHARS
    assert len(fold("ы " * 4000)) <= MAX_CHARS


def test_latin_multi_letter_sequences() -> None:
    assert latin_to_cyrillic("shchet") == "щет"
    assert latin_to_cyrillic("zhok") == "жок"


def test_annotations_survive_folding() -> None:
    line = 'Қандай құжат [ХҚО-ға]{"entity": "channel", "value": "psc"} керек'
    folded = fold_annotated(line)
    assert folded == 'кандаи кужат [хко га]{"entity": "channel", "value": "psc"} керек'
    text, ents = parse_annotated(folded)
    assert text == "кандаи кужат хко га керек"
    assert ents[0].entity == "channel" and ents[0].value == "psc" and ents[0].text == "хко га"


def test_short_annotation_forms() -> None:
    text, ents = parse_annotated(
        "мой иин [870412300415](iin), заявка [DUP-2026-00042](application_number)"
    )
    assert text == "мой иин 870412300415, заявка DUP-2026-00042"
    assert [(e.entity, e.value) for e in ents] == [
        ("iin", "870412300415"),
        ("application_number", "DUP-2026-00042"),
    ]
