"""Choosing the answer unit: the most specific fact of the standard for a message.

The knowledge base holds general entries (the default answer for an intent
and service), channel entries, and detail units (one precise fact each:
"the portal application is signed with an EDS"). DIET names the dialogue act
and topic; this ranker reads the message itself against each unit's example
questions (`ask:` in data/knowledge) and says which unit the message asks
for. Both signals are combined: score = similarity + INTENT_WEIGHT x the
model's confidence in one of the unit's intents.

A third signal is learned: a logistic regression over the units (the same
word features and the sentence embedding), fitted on the example questions
by `make train` (models/units-<hash>.npz). Nearest-example similarity trusts
one example; the classifier weighs every example of every unit, and on text
written apart from the examples it names the right unit more often (text
alone, 844 evaluation turns: nearest example 0.714, classifier 0.786).

Similarity is TF-IDF over the folded text (nlu.normalize.fold: one script for
Cyrillic, letterless and Latin Kazakh), character n-grams inside words (case
endings and typos share them with the stem) plus whole words, cosine against
every example question of a unit, best example wins. Everything is built
from the knowledge files when they load: nothing is downloaded, nothing
trained apart from the vocabulary; a query costs well under a millisecond.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.base import Entry, KnowledgeBase
from nlu.embed import Encoder
from nlu.embed import enabled as embeddings_enabled
from nlu.embed import shared as shared_encoder
from nlu.normalize import clean, fold
from nlu.rasa import MODEL_DIR

log = logging.getLogger(__name__)

# How much DIET's confidence in one of a unit's intents adds to its similarity.
INTENT_WEIGHT = 0.15
# A detail unit is answered only when the message is this close to one of its
# examples, and closer than the general entry by DETAIL_MARGIN.
DETAIL_MIN_SIMILARITY = 0.42
DETAIL_MARGIN = 0.0
# ... or this close, when the classifier is sure of it: every other unit of
# its service at least LEARNED_SURE behind ("я сирота, что нужно
# подтвердить для гранта?" shares few words with "жетім балаларға").
LEARNED_MIN_SIMILARITY = 0.25
LEARNED_SURE = 0.5
# The classifier alone names the unit (over DIET's topic and the words'
# ranking) when its probability is at least this and this far ahead of the
# next candidate's: "universitetke kandai kuzhat aparu kerek" is the
# university's list of documents, "прив чё по срокам гранта когда результы"
# the 15 August term, whichever topic DIET reads.
CLASSIFIER_CERTAIN = 0.6
CLASSIFIER_CERTAIN_MARGIN = 0.5
# How much the unit's own text (its answer) adds: the words of the answer
# ("расписка", "086-У") are words of the question too.
TEXT_WEIGHT = 0.5
# The question asked, against the whole message with its story.
FOCUS_WEIGHT = 0.65
# No service named: the words settle it when the best answer of another
# service scores this much lower.
SERVICE_MARGIN = 0.2
# Without a confident intent, a unit this close to the message is answered.
RESCUE_MIN_SIMILARITY = 0.45
# The meaning, beside the words: the sentence-embedding cosine of the message
# to the unit's nearest example question (nlu/embed.py), centred on
# SEMANTIC_CENTER (about what unrelated questions on this subject score) and
# added with this weight.
SEMANTIC_WEIGHT = 4.0
SEMANTIC_CENTER = 0.8
# The meaning is asked for (an embedding costs ~20 ms on one core) only when
# the words leave the two closest units within this margin of each other.
MEANING_MARGIN = 0.3
# The classifier's probability of a unit, added to its similarity with this
# weight; the embedding's weight among the classifier's features, and the
# classifier's regularisation (measured on the evaluation turns, text alone).
LEARNED_WEIGHT = 2.0
LEARNED_EMBEDDING = 2.0
LEARNED_C = 10.0
# The model's confidence in a unit's topic, to this power, weighs the
# classifier's probability of it (see _learned).
LEARNED_PRIOR = 0.5
LEARNED_PRIOR_FLOOR = 0.05
# Without a fitted classifier on disk for the knowledge base (edited since
# `make train`), one is fitted: at once for a small one, else in a thread
# (about a minute for the whole standard) while the ranker goes on without
# it; kept in memory until `make train` writes it.
FIT_NOW_MAX = 1500
CLASSIFIER_VERSION = "1"
# Messages whose word features are kept (a message is read several times).
RECENT_KEPT = 32
# Words that carry no topic: kept out of the word features.
_STOP_WORDS = """
    а ал и или да же ли ма ме ба бе па пе ше шы мне меня мен маган
    я ты вы он она мы сиз сен биз ол бул осы это этот эта как кандаи
    пожалуиста подскажите скажите аитынызшы аитыныздаршы
    здравствуите добрыи день салем саламатсыз саламатсызба
    салеметсиз салеметсизбе привет ассалаумагалеикум кайырлы куни
"""
_STOP = frozenset(_STOP_WORDS.split())
# Greetings and politeness before the question (folded text).
GREETING_RE = re.compile(
    r"^(?:(?:здравствуи(?:те)?|здрасте|добрыи\s+(?:день|вечер)|доброе\s+утро|привет|"
    r"доброго\s+(?:дня|утра|вечера)|доброи\s+ночи|уважаемые?|девушка|апаи|агаи|"
    r"салем(?:етсиз(?:дер)?)?(?:\s*бе|\s*ме)?|салеметсизбе|саламатсыз(?:дар)?(?:\s*ба|\s*ма)?|"
    r"салам(?:\s+алеикум)?|ассалаумагалеикум|ассалаумалеикум|"
    r"(?:кайырлы|жаксы)\s+(?:кун|таң|тан|кеш)|hello|hi|"
    r"извините|простите|кешириниз|кешіріңіз|пожалуиста|подскажите(?:\s+пожалуиста)?|"
    r"скажите(?:\s+пожалуиста)?|аитыңызшы|аитынызшы|у\s+меня\s+(?:еще\s+)?вопрос|менде\s+(?:тагы\s+)?сурак\s+бар|"
    # "еще вопрос:", "тағы бір сұрақ:" open the next question, like a greeting.
    r"(?:и\s+)?еще\s+(?:один\s+|1\s+)?вопрос(?:ик)?|вопрос(?:ик)?\s+такой|такой\s+вопрос|есть\s+вопрос|"
    r"тагы\s+(?:бир\s+)?(?:сурак|нарсе)|(?:менин\s+)?(?:бир\s+)?сурагым\s+бар|вопрос(?=\s*:)|сурак(?=\s*:))"
    r"[\s,.!:;-]*)+"
)
# "What do I do?" names no fact: kept out of the message's words (folded), or
# a unit whose example ends that way ("ЭЦП нет, что мне делать?") would
# answer every "я потеряла диплом, что мне делать".
_GENERIC_RE = re.compile(
    r"\b(?:что\s+(?:же\s+)?(?:мне\s+|теперь\s+|мне\s+теперь\s+)?(?:нужно\s+|надо\s+)?делать|"
    r"как\s+(?:мне\s+)?быть|помогите|"
    r"(?:енди\s+)?не\s+(?:истеимин|истеуим\s+керек|истеу\s+керек|истеимиз|истеу\s+керек\s+екен))\b"
)


@dataclass(frozen=True)
class Ranked:
    entry: Entry
    # The words: TF-IDF cosine to the nearest example (+ the unit's text).
    # Absolute thresholds (is this message about the unit at all?) read it:
    # the embedding finds every text on the subject somewhat close, noise too.
    lexical: float
    prior: float
    # The meaning: embedding cosine to the nearest example.
    semantic: float = SEMANTIC_CENTER
    # The classifier's say among the candidates (0 without a classifier; see _learned).
    learned: float = 0.0
    # The classifier's own probability of this unit, before the topic weighs in.
    probability: float = 0.0

    @property
    def similarity(self) -> float:
        """Words, meaning and the classifier together: which unit, among
        those close enough."""
        return (
            self.lexical
            + SEMANTIC_WEIGHT * (self.semantic - SEMANTIC_CENTER)
            + LEARNED_WEIGHT * self.learned
        )

    @property
    def score(self) -> float:
        return self.similarity + INTENT_WEIGHT * self.prior


class UnitClassifier:
    """Logistic regression over the units: a weight per unit for each word
    feature and embedding dimension (models/units-<hash>.npz)."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, n_words: int) -> None:
        self.words = np.ascontiguousarray(coef[:, :n_words].T, dtype=np.float32)
        self.meaning = np.ascontiguousarray(coef[:, n_words:], dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)

    @classmethod
    def fit(cls, words: Any, vectors: np.ndarray, labels: np.ndarray) -> UnitClassifier:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.linear_model import LogisticRegression

        features = hstack([words, csr_matrix(vectors * LEARNED_EMBEDDING)]).tocsr()
        model = LogisticRegression(C=LEARNED_C, max_iter=3000)
        model.fit(features, labels)
        # Every unit has a row, in the ranker's order (classes_ are sorted labels).
        coef = np.zeros((int(labels.max()) + 1, features.shape[1]), dtype=np.float32)
        intercept = np.full(int(labels.max()) + 1, -1e4, dtype=np.float32)
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
        return cls(coef, intercept, words.shape[1])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        coef = np.hstack([self.words.T, self.meaning])
        np.savez(tmp, coef=coef, intercept=self.intercept, n_words=self.words.shape[0])
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> UnitClassifier | None:
        try:
            with np.load(path) as data:
                return cls(data["coef"], data["intercept"], int(data["n_words"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("unit classifier %s unreadable (%s): fitted again", path, exc)
            return None

    def probabilities(self, words: Any, vector: np.ndarray) -> np.ndarray:
        """Per unit, for one message's word features (a 1-row sparse matrix)
        and its embedding."""
        row = words.tocsr()
        # Only the message's own features' rows (a product with the whole
        # matrix would convert all of it to float64 first: 14 ms).
        z = row.data.astype(np.float32) @ self.words[row.indices]
        z += LEARNED_EMBEDDING * (self.meaning @ vector) + self.intercept
        z = np.exp(z - z.max())
        return np.asarray(z / z.sum(), dtype=np.float64)


class _Fitter:
    """The one background thread that fits classifiers, one at a time.

    An operator who saves the knowledge five times in a minute queues five
    fits; each holds the examples' matrices and a solver's working memory
    (about 1 GB), and run side by side they took 8 GB. Here a ranker has at
    most one fit waiting, for the knowledge it holds when the fit starts;
    a ranker that is gone or has moved on to newer knowledge is skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, weakref.ref[UnitRanker]] = {}
        self._running: weakref.ref[UnitRanker] | None = None
        self._thread: threading.Thread | None = None

    def submit(self, ranker: UnitRanker) -> None:
        with self._lock:
            self._waiting[id(ranker)] = weakref.ref(ranker)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="unit-classifier", daemon=True
                )
                self._thread.start()

    def busy(self, ranker: UnitRanker) -> bool:
        with self._lock:
            running = self._running() if self._running is not None else None
            waiting = self._waiting.get(id(ranker))
            return running is ranker or (waiting is not None and waiting() is ranker)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    self._running = None
                    return
                key = next(iter(self._waiting))
                ref = self._waiting.pop(key)
                self._running = ref
            ranker = ref()
            if ranker is None or ranker._classifier is not None or ranker._matrix is None:
                with self._lock:
                    self._running = None
                continue
            built_for, path = ranker._built_for, ranker._classifier_path
            n = ranker._n_examples
            words, vectors, labels = ranker._matrix[:n], ranker._vectors, ranker._rows
            del ranker  # a ranker dropped meanwhile is not kept alive by its fit
            try:
                # Kept in memory only: `make train` writes the one the bot starts with.
                classifier = UnitClassifier.fit(words, vectors, labels)
            except Exception:  # noqa: BLE001 - the ranker goes on without it
                log.exception("unit classifier could not be fitted")
                with self._lock:
                    self._running = None
                continue
            finally:
                del words, vectors, labels
            ranker = ref()
            with self._lock:  # busy() is false only once the ranker has it
                self._running = None
                if ranker is not None and ranker._built_for is built_for:
                    ranker._classifier = classifier
                    log.info("unit classifier fitted: %s", path.name if path else "")
            del ranker


_FITTER = _Fitter()


class UnitRanker:
    """Ranks the knowledge base's entries for one message. Rebuilds itself
    when the knowledge base is reloaded (the entries tuple changes)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        encoder: Encoder | None = None,
        *,
        model_dir: Path = MODEL_DIR,
        fit_in_background: bool = True,
    ) -> None:
        self.kb = kb
        self.encoder = encoder if encoder is not None else shared_encoder()
        self.model_dir = model_dir
        self.fit_in_background = fit_in_background
        self._vectors: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._built_for: tuple[Entry, ...] | None = None
        self._entries: list[Entry] = []
        self._rows: np.ndarray = np.zeros(0, dtype=np.int64)  # example row -> entry index
        self._n_examples = 0
        self._chars: TfidfVectorizer | None = None
        self._words: TfidfVectorizer | None = None
        self._matrix: Any = None
        self._classifier: UnitClassifier | None = None
        self._classifier_path: Path | None = None
        self._recent: dict[tuple[Any, str], tuple[Any, np.ndarray] | None] = {}

    # -- index ------------------------------------------------------------------
    def _build(self) -> None:
        entries = [e for e in self.kb.entries if e.ask]
        docs: list[str] = []
        rows: list[int] = []
        questions: list[str] = []
        for index, entry in enumerate(entries):
            for lang in ("kk", "ru"):
                for question in entry.ask.get(lang, ()):
                    docs.append(fold(question))
                    questions.append(question)
                    rows.append(index)
        self._vectors = (
            self.encoder.examples(questions) if embeddings_enabled() else np.zeros((0, 0))
        )
        texts = [fold(e.text["kk"] + " " + e.text["ru"]) for e in entries]
        docs.extend(texts)
        self._entries = entries
        self._rows = np.asarray(rows, dtype=np.int64)
        self._n_examples = len(rows)
        self._built_for = self.kb.entries
        self._classifier = None
        if not docs:
            self._chars = self._words = None
            self._matrix = None
            return
        self._chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1
        )
        self._words = TfidfVectorizer(
            analyzer="word",
            token_pattern=r"(?u)\b\w\w+\b",
            stop_words=list(_STOP),
            sublinear_tf=True,
        )
        from scipy.sparse import hstack

        chars = self._chars.fit_transform(docs)
        words = self._words.fit_transform(docs)
        matrix = hstack([chars * 0.8, words * 0.6]).tocsr()
        self._matrix = _normalise_rows(matrix)
        log.info("unit ranker: %d units, %d example questions", len(entries), len(docs))
        self._classify(docs, [e.id for e in entries])

    def _classify(self, docs: list[str], ids: list[str]) -> None:
        """Load the classifier fitted for exactly these examples, or fit it."""
        if not len(self._vectors) or len(set(self._rows.tolist())) < 2:
            return
        digest = hashlib.sha256()
        for part in (CLASSIFIER_VERSION, repr((LEARNED_C, LEARNED_EMBEDDING)), *ids, "\0"):
            digest.update(part.encode("utf-8") + b"\n")
        for doc in docs:
            digest.update(doc.encode("utf-8") + b"\n")
        digest.update(self._rows.tobytes())
        path = self.model_dir / f"units-{digest.hexdigest()[:16]}.npz"
        self._classifier_path = path
        self._classifier = UnitClassifier.load(path)
        if self._classifier is not None:
            return
        if self._n_examples <= FIT_NOW_MAX or not self.fit_in_background:
            words, vectors, labels = self._matrix[: self._n_examples], self._vectors, self._rows
            self._classifier = UnitClassifier.fit(words, vectors, labels)
            return
        log.warning(
            "unit classifier not fitted for this knowledge base (run `make train`): "
            "fitting it in the background, ranking without it meanwhile"
        )
        _FITTER.submit(self)

    @property
    def fitting(self) -> bool:
        """A classifier for this ranker's knowledge base is queued or being
        fitted in the background."""
        return _FITTER.busy(self)

    def _ensure(self) -> None:
        if self._built_for is not self.kb.entries:
            self._build()

    def train(self) -> Path | None:
        """Fit the classifier for the knowledge base now, unless one on disk
        fits it, and keep only that one on disk (`make train`); its path,
        None without embeddings."""
        self.fit_in_background = False
        self._ensure()
        path, classifier = self._classifier_path, self._classifier
        if path is None or classifier is None:
            return None
        if not path.exists():
            classifier.save(path)
        for old in path.parent.glob("units-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
        return path

    async def prepare(self, *texts: str) -> None:
        """Embed the texts the ranker will be asked about in a worker thread,
        so that the event loop goes on with other citizens meanwhile."""
        self._ensure()
        if not len(self._vectors):
            return
        for text in dict.fromkeys(t for t in texts if t):
            words = self._read(text)
            if words is None:
                continue
            lexical = words[1]
            if self._classifier is None and not self._needs_meaning(lexical):
                continue
            meaning = without_greeting(text)
            if not self.encoder.cached(meaning):
                await asyncio.to_thread(self.encoder.query, meaning)

    def warm(self) -> None:
        """Build the index and load the encoder now (startup), not on the
        first message."""
        self._ensure()
        if len(self._vectors):
            self.encoder.query("дубликат диплома")

    # -- queries ----------------------------------------------------------------
    def _query(self, text: str) -> Any:
        """The message's word features (a 1-row matrix), None: no words."""
        self._ensure()
        if self._matrix is None or self._chars is None or self._words is None:
            return None
        folded = fold(text)
        folded = " ".join(_GENERIC_RE.sub(" ", GREETING_RE.sub("", folded) or folded).split())
        if not folded:
            return None
        from scipy.sparse import hstack

        q = hstack([self._chars.transform([folded]) * 0.8, self._words.transform([folded]) * 0.6])
        return _normalise_rows(q.tocsr())

    def _read(self, text: str) -> tuple[Any, np.ndarray] | None:
        """The message's word features and lexical closeness per unit, kept
        for the last few messages (prepare() and rank() read the same text)."""
        self._ensure()
        key = (self._built_for, text)
        hit = self._recent.get(key)
        if hit is not None:
            return hit
        q = self._query(text)
        lexical = None if q is None else self._lexical(text, q)
        found = None if q is None or lexical is None else (q, lexical)
        if len(self._recent) >= RECENT_KEPT:
            self._recent.pop(next(iter(self._recent)))
        self._recent[key] = found
        return found

    def _lexical(self, text: str, q: Any = None) -> np.ndarray | None:
        q = self._query(text) if q is None else q
        if q is None:
            return None
        # A sparse matrix times a dense vector: one pass over the examples'
        # non-zeros (a sparse-sparse product first counts its result's).
        sims = np.asarray(self._matrix @ q.toarray().ravel()).ravel()
        n = self._n_examples
        lexical = np.zeros(len(self._entries))
        np.maximum.at(lexical, self._rows, sims[:n])
        lexical += TEXT_WEIGHT * sims[n:]
        return lexical

    def _needs_meaning(self, lexical: np.ndarray) -> bool:
        """The words leave it open: the two closest units are within
        MEANING_MARGIN of each other, or nothing is near at all."""
        if not len(self._vectors) or len(lexical) < 2:
            return False
        second, first = np.partition(lexical, -2)[-2:]
        return bool(first - second < MEANING_MARGIN)

    def closeness(self, text: str) -> dict[str, tuple[float, float, float]]:
        """Entry id -> (lexical, semantic, learned) closeness of the message
        (see Ranked)."""
        words = self._read(text)
        if words is None:
            return {}
        q, lexical = words
        semantic = np.full(len(self._entries), SEMANTIC_CENTER)
        learned = np.zeros(len(self._entries))
        vector = None
        if self._needs_meaning(lexical):
            vector = self.encoder.query(without_greeting(text))
            near = self._vectors @ vector
            semantic = np.full(len(self._entries), -1.0)
            np.maximum.at(semantic, self._rows, near)
        classifier = self._classifier
        if classifier is not None:
            if vector is None:
                vector = self.encoder.query(without_greeting(text))
            learned = classifier.probabilities(q, vector)
        return {
            e.id: (float(lex), float(sem), float(p))
            for e, lex, sem, p in zip(self._entries, lexical, semantic, learned, strict=True)
        }

    def similarities(self, text: str) -> dict[str, float]:
        """Entry id -> words, meaning and the classifier together
        (Ranked.similarity)."""
        return {
            k: Ranked(self._entries[0], lex, 0.0, sem, p).similarity
            for k, (lex, sem, p) in self.closeness(text).items()
        }

    def rank(
        self,
        text: str,
        intents: Mapping[str, float],
        candidates: Iterable[Entry],
        *,
        focus: str | None = None,
    ) -> list[Ranked]:
        """`candidates` scored for `text`, best first. `intents`: the model's
        confidence per intent (its ranking). `focus`: the question asked when
        the message asks several; it weighs more than the rest of the text."""
        far = (0.0, SEMANTIC_CENTER, 0.0)
        near = whole = self.closeness(text)
        if focus:
            asked = self.closeness(focus)
            near = {k: _blend(asked.get(k, far), near.get(k, far)) for k in set(near) | set(asked)}
        candidates = list(candidates)
        priors = [max((intents.get(i, 0.0) for i in e.intents), default=0.0) for e in candidates]
        learned = _learned(candidates, [near.get(e.id, far)[2] for e in candidates], priors)
        ranked = []
        for entry, prior, p in zip(candidates, priors, learned, strict=True):
            lexical, semantic, _ = near.get(entry.id, far)
            # The whole message's: a story's question alone says less.
            probability = whole.get(entry.id, far)[2]
            ranked.append(Ranked(entry, lexical, prior, semantic, p, probability))
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked


def without_greeting(text: str) -> str:
    """The message (cleaned, not folded) without the greeting before it:
    "сәлеметсіздер ме, грантқа қандай құжат керек" is read for its meaning
    as "грантқа қандай құжат керек"; the text itself when all of it greets."""
    cleaned = clean(text)
    folded = fold(cleaned)
    rest = GREETING_RE.sub("", folded).strip()
    if not rest or rest == folded:
        return cleaned
    words = cleaned.split()
    for k in range(1, min(len(words), 8)):
        tail = " ".join(words[k:])
        if fold(tail) == rest:
            return tail
    return cleaned


def classifier_certain(ranked: list[Ranked], service: str) -> Entry | None:
    """The unit of `service` the classifier all but names by itself among
    the candidates: CLASSIFIER_CERTAIN likely and CLASSIFIER_CERTAIN_MARGIN
    ahead of the next. None when it does not."""
    pool = sorted(
        (r for r in ranked if service in r.entry.services),
        key=lambda r: r.probability,
        reverse=True,
    )
    if len(pool) < 2:
        return None
    first, second = pool[0].probability, pool[1].probability
    if first >= CLASSIFIER_CERTAIN and first - second >= CLASSIFIER_CERTAIN_MARGIN:
        return pool[0].entry
    return None


def learned_sure(best: Ranked, ranked: list[Ranked]) -> bool:
    """The classifier puts `best` first in its service, LEARNED_SURE ahead
    of every other candidate of that service."""
    if best.learned < 0.0:
        return False
    services = set(best.entry.services)
    others = [r.learned for r in ranked if r is not best and services & set(r.entry.services)]
    return max(others, default=-1.0) <= -LEARNED_SURE


def _learned(entries: list[Entry], probabilities: list[float], priors: list[float]) -> list[float]:
    """The classifier's say for each candidate: which fact, within the
    unit's service (which service is for the name the citizen gave or the
    conversation's, settled by the assistant, not by the words' statistics).
    Its probability, weighed by the model's confidence in the unit's topic
    (LEARNED_PRIOR: a question DIET is sure is about the term is not taken
    for one about storage because it says "қанша күн"), normalised among the
    candidates of the same service; 0 for the best of each service, less for
    the others."""
    p = np.asarray(probabilities) * (np.asarray(priors) + LEARNED_PRIOR_FLOOR) ** LEARNED_PRIOR
    out = np.zeros(len(entries))
    kinds: dict[frozenset[str], list[int]] = {}
    for index, entry in enumerate(entries):
        kinds.setdefault(frozenset(entry.services), []).append(index)
    for kind, own in kinds.items():
        group = p[[i for i, e in enumerate(entries) if kind & set(e.services)]]
        total = float(group.sum())
        if total > 0:
            out[own] = (p[own] - group.max()) / total
    return [float(x) for x in out]


def _blend(
    asked: tuple[float, float, float], whole: tuple[float, float, float]
) -> tuple[float, float, float]:
    """The question asked weighs FOCUS_WEIGHT, the whole message the rest."""
    a, b, c = (FOCUS_WEIGHT * x + (1 - FOCUS_WEIGHT) * y for x, y in zip(asked, whole, strict=True))
    return a, b, c


def _normalise_rows(matrix: Any) -> Any:
    from scipy.sparse import csr_matrix, diags

    m = csr_matrix(matrix)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return diags(1.0 / norms) @ m


def cache_example_vectors(kb: KnowledgeBase | None = None, encoder: Encoder | None = None) -> int:
    """Embed every example question of the knowledge base and every NLU
    training example into the encoder's cache file (models/embeddings.npz),
    and fit the unit classifier (models/units-<hash>.npz), so that the bot
    starts without doing either. `make train` runs it (`python -m
    actions.units`); both are kept while the examples do not change."""
    from nlu.trainingdata import TRAIN_DIR, read

    kb = kb or KnowledgeBase.load()
    encoder = encoder or shared_encoder()
    texts = [q for e in kb.entries for lang in ("kk", "ru") for q in e.ask.get(lang, ())]
    texts += [e.text for e in read([TRAIN_DIR]).examples]
    count = encoder.save(texts)
    if embeddings_enabled():
        UnitRanker(kb, encoder).train()
    return count


if __name__ == "__main__":
    import time

    from nlu.embed import CACHE_PATH

    started = time.monotonic()
    count = cache_example_vectors(encoder=Encoder(CACHE_PATH, threads=0))
    print(  # noqa: T201
        f"{count} example texts embedded, unit classifier ready in "
        f"{time.monotonic() - started:.0f} s"
    )
