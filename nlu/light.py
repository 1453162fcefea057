"""Light classifiers trained from the same NLU data as the Rasa model.

Two small scikit-learn models live here:

* the language detector (kk / ru), which reads the text *before* folding so
  that Kazakh letters count as evidence, and the folded text so that Latin
  and letterless Kazakh are still recognised;
* the degraded-mode intent classifier, which answers when the Rasa server
  does not. It is a linear model on character n-grams of the folded text:
  far weaker on rare phrasings than DIET, but it trains in about a second
  and needs no server.

Both are trained on first use and cached on disk next to the Rasa model,
keyed by a hash of the training data.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from nlu.normalize import clean, fold
from nlu.trainingdata import TRAIN_DIR, NluData, read

log = logging.getLogger(__name__)

KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
KAZAKH_LATIN_LETTERS = frozenset("áǵńóúıÁǴŃÓÚ")
_STRIP_KK = str.maketrans(
    {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"}
)
CACHE_VERSION = 5


def _lang_view(text: str) -> str:
    """What the language model reads: lower-case text with its own letters,
    a separator, then the folded form."""
    return clean(text).lower() + " | " + fold(text)


# The words that carry a sentence's grammar, folded (nlu.normalize.fold: one
# form for Cyrillic, letterless and Latin Kazakh). A message that mixes the
# languages ("документы қандай керек?", "вуз закрылся, телнұсқаны қайдан
# аламын?") is in the language of its grammar, not of its nouns.
_KAZAKH_GRAMMAR_WORDS = """
    ма ме ба бе па пе ше шы ши керек жок бар кандаи каидан каида кашан канша калаи
    кимге неге болса бола болады болама болад емес ушин бойынша маган менин сиз
    сизге сизден мен биз олар ол осы сол алам аламын барам барамын беремин
    бере береди келеди кеде жане немесе тапсырамын тапсыру жазылу алуга
"""
_KAZAKH_GRAMMAR = frozenset(_KAZAKH_GRAMMAR_WORDS.split())
_RUSSIAN_GRAMMAR_WORDS = """
    что как где когда куда откуда сколько какие какой какая какое каким можно нужно
    надо нужен нужна ли же и в во на для по у с со из от до или если это этот эта
    мне меня мой моя я вы вам вас они он она пожалуйста скажите подскажите есть
    будет был была делать сделать получить подать забрать
"""
_RUSSIAN_GRAMMAR = frozenset(_RUSSIAN_GRAMMAR_WORDS.split())
# A mixed message's grammar decides its language when its words say so by
# this many more words of one language than of the other; by one word, only
# when the character model is less sure than GRAMMAR_DOUBT.
GRAMMAR_MARGIN = 2
GRAMMAR_DOUBT = 0.9
GRAMMAR_SURE = 0.98
# A word is of one language when the training examples of that language use
# it this many times more often (per word written) than the other's do: "керек",
# "кайда", "алам" are Kazakh, "нужно", "куда", "если" Russian, "диплом",
# "грант", "ЦОН" either.
WORD_LANG_RATIO = 4.0
# The confidence of a mixed message's language taken from its words' majority.
MIXED_SURE = 0.9
_KAZAKH_VERB_ENDINGS = (
    "ады",
    "еди",
    "йды",
    "йди",
    "мын",
    "мыз",
    "миз",
    "ныз",
    "сыз",
    "сиз",
    "зшы",
    "зши",
)


def _kazakh_word(word: str) -> bool:
    """A Kazakh function word, or a Kazakh verb by its ending ("жасалады",
    "аламын", "бересиз")."""
    return word in _KAZAKH_GRAMMAR or (len(word) >= 6 and word.endswith(_KAZAKH_VERB_ENDINGS))


def kazakh_grammar_words(text: str) -> int:
    """How many of the message's words are Kazakh grammar (see _kazakh_word)."""
    return _kazakh_count(re.findall(r"\w+", fold(text)))


def _kazakh_count(words: list[str]) -> int:
    return sum(_kazakh_word(w) for w in words)


def grammar_vote(text: str, lang: str, confidence: float) -> tuple[str, float]:
    """The language a message's function words give, over the character
    model's guess when they are clear (see _KAZAKH_GRAMMAR). Kazakh grammar
    words and no Russian ones make it sure (GRAMMAR_SURE): a short mixed
    message ("ЭЦП жоқ болса ше?") then sets the reply's language."""
    words = re.findall(r"\w+", fold(text))
    kk = _kazakh_count(words)
    ru = sum(w in _RUSSIAN_GRAMMAR for w in words)
    vote = kk - ru
    if vote == 0:
        return lang, confidence
    said = "kk" if vote > 0 else "ru"
    # Kazakh grammar around Russian nouns is what the character model misses;
    # a Russian word or two in a Kazakh conversation ("а в субботу?") is not
    # made surer here.
    sure = GRAMMAR_SURE if said == "kk" and ru == 0 else 0.75
    if said == lang:
        return lang, max(confidence, sure) if said == "kk" else confidence
    if abs(vote) >= GRAMMAR_MARGIN or confidence < GRAMMAR_DOUBT:
        return said, sure
    return lang, confidence


def word_languages(data: NluData) -> dict[str, str]:
    """Folded word -> "kk" | "ru", for the words the training data uses
    mostly in one language (WORD_LANG_RATIO)."""
    counts: dict[str, Counter[str]] = {"kk": Counter(), "ru": Counter()}
    for e in data.examples:
        if e.lang in counts:
            counts[e.lang].update(set(re.findall(r"[^\W\d_]+", fold(e.text))))
    totals = {lang: sum(c.values()) or 1 for lang, c in counts.items()}
    words: dict[str, str] = {}
    for word in counts["kk"].keys() | counts["ru"].keys():
        kk = counts["kk"][word] / totals["kk"]
        ru = counts["ru"][word] / totals["ru"]
        if kk > WORD_LANG_RATIO * ru:
            words[word] = "kk"
        elif ru > WORD_LANG_RATIO * kk:
            words[word] = "ru"
    return words


@dataclass
class LightModels:
    language: Pipeline
    intent: Pipeline
    data_hash: str
    trigrams: frozenset[str] = frozenset()
    words: dict[str, str] = field(default_factory=dict)

    def mixed_language(self, text: str) -> str | None:
        """The language of a message written in both ("а если ЭЦП жоқ?",
        "порталда бір нәрсені қате жазып қойсам что будет"): the one most of
        its words are in, as a citizen reads it. None when the message is in
        one language, or its words are as many in each."""
        said = {"kk": 0, "ru": 0}
        for raw in re.findall(r"[^\W\d_]+", text):
            if KAZAKH_LETTERS.intersection(raw) or KAZAKH_LATIN_LETTERS.intersection(raw):
                said["kk"] += 1
            elif lang := self.words.get(fold(raw)):
                said[lang] += 1
        if not said["kk"] or not said["ru"] or said["kk"] == said["ru"]:
            return None
        return "kk" if said["kk"] > said["ru"] else "ru"

    def familiarity(self, folded_text: str) -> float:
        """Share of the message's letter trigrams seen in training (0..1).

        Keyboard mashing ("фывфыв ячсмить") scores about 0.35, real
        questions, typos included, 0.75 and up: a classifier's confidence
        on text like the former means nothing.
        """
        padded = f" {folded_text} "
        grams = [
            padded[i : i + 3]
            for i in range(len(padded) - 2)
            if any(ch.isalpha() for ch in padded[i : i + 3])
        ]
        if not grams or not self.trigrams:
            return 1.0
        return sum(g in self.trigrams for g in grams) / len(grams)

    # -- language ---------------------------------------------------------
    def detect_language(self, text: str) -> tuple[str, float]:
        """Return ("kk" | "ru", confidence in 0..1)."""
        cleaned = clean(text)
        if not any(ch.isalpha() for ch in cleaned):
            return "ru", 0.0
        probs = self.language.predict_proba([_lang_view(cleaned)])[0]
        classes = list(self.language.classes_)
        kk = float(probs[classes.index("kk")])
        if kk >= 0.5:
            return grammar_vote(cleaned, "kk", kk)
        return grammar_vote(cleaned, "ru", 1.0 - kk)

    # -- intents ----------------------------------------------------------
    def rank_intents(self, folded_text: str, top: int = 10) -> list[tuple[str, float]]:
        probs = self.intent.predict_proba([folded_text])[0]
        order = np.argsort(probs)[::-1][:top]
        classes = self.intent.classes_
        return [(str(classes[i]), float(probs[i])) for i in order]


def _char_word_features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",
                ),
            ),
        ]
    )


def data_hash(data_dir: Path = TRAIN_DIR) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for f in sorted(data_dir.rglob("*.yml")):
        h.update(str(f.relative_to(data_dir)).encode())
        h.update(f.read_bytes())
    h.update((Path(__file__).parent / "normalize.py").read_bytes())
    return h.hexdigest()[:16]


def train(data: NluData, digest: str = "") -> LightModels:
    texts = [e.text for e in data.examples]
    intents = [e.intent for e in data.examples]

    intent_model = Pipeline(
        [
            ("features", _char_word_features()),
            ("clf", LogisticRegression(C=20.0, max_iter=2000)),
        ]
    )
    intent_model.fit([fold(t) for t in texts], intents)

    lang_texts: list[str] = []
    lang_labels: list[str] = []
    for e in data.examples:
        if e.lang not in ("kk", "ru"):
            continue
        lang_texts.append(_lang_view(e.text))
        lang_labels.append(e.lang)
        if e.lang == "kk" and any(ch in KAZAKH_LETTERS for ch in e.text):
            # The same sentence typed without Kazakh letters.
            lang_texts.append(_lang_view(e.text.lower().translate(_STRIP_KK)))
            lang_labels.append("kk")
    # Character n-grams carry the script and the letters; whole words carry
    # the grammatical frame of a mixed sentence ("керек", "ма" vs "где",
    # "можно"). Chosen by 5-fold cross-validation on the training data
    # (docs/nlu.md): chars+words C=3 0.956, chars only C=10 0.955.
    lang_model = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        (
                            "chars",
                            TfidfVectorizer(
                                analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True
                            ),
                        ),
                        (
                            "words",
                            TfidfVectorizer(
                                analyzer="word", token_pattern=r"(?u)\b\w+\b", sublinear_tf=True
                            ),
                        ),
                    ]
                ),
            ),
            ("clf", LogisticRegression(C=3.0, max_iter=3000)),
        ]
    )
    lang_model.fit(lang_texts, lang_labels)
    trigrams: set[str] = set()
    for t in texts:
        padded = f" {fold(t)} "
        trigrams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return LightModels(
        language=lang_model,
        intent=intent_model,
        data_hash=digest,
        trigrams=frozenset(trigrams),
        words=word_languages(data),
    )


_cache: dict[str, LightModels] = {}


def load_or_train(data_dir: Path = TRAIN_DIR, cache_dir: Path | None = None) -> LightModels:
    """The light models for the current training data (memory, disk, or train)."""
    digest = data_hash(data_dir)
    if digest in _cache:
        return _cache[digest]
    cache_file = (cache_dir / f"light-{digest}.pkl") if cache_dir else None
    models: LightModels | None = None
    if cache_file and cache_file.exists():
        try:
            with cache_file.open("rb") as fh:
                models = pickle.load(fh)  # noqa: S301 - our own file, written below
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            log.warning("light model cache unreadable, retraining: %s", exc)
            models = None
    if models is None:
        models = train(read([data_dir]), digest)
        if cache_file:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(models, fh)
            tmp.replace(cache_file)
    _cache[digest] = models
    return models
