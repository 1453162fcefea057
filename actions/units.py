"""Choosing the answer unit: the most specific fact of the standard for a message.

The knowledge base holds general entries (the default answer for an intent
and service), channel entries, and detail units (one precise fact each:
"the portal application is signed with an EDS"). DIET names the dialogue act
and topic; this ranker reads the message itself against each unit's example
questions (`ask:` in data/knowledge) and says which unit the message asks
for. Both signals are combined: score = similarity + INTENT_WEIGHT x the
model's confidence in one of the unit's intents.

Similarity is TF-IDF over the folded text (nlu.normalize.fold: one script for
Cyrillic, letterless and Latin Kazakh), character n-grams inside words (case
endings and typos share them with the stem) plus whole words, cosine against
every example question of a unit, best example wins. Everything is built
from the knowledge files when they load: nothing is downloaded, nothing
trained apart from the vocabulary; a query costs well under a millisecond.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.base import Entry, KnowledgeBase
from nlu.embed import Encoder
from nlu.embed import enabled as embeddings_enabled
from nlu.embed import shared as shared_encoder
from nlu.normalize import clean, fold

log = logging.getLogger(__name__)

# How much DIET's confidence in one of a unit's intents adds to its similarity.
INTENT_WEIGHT = 0.15
# A detail unit is answered only when the message is this close to one of its
# examples, and closer than the general entry by DETAIL_MARGIN.
DETAIL_MIN_SIMILARITY = 0.42
DETAIL_MARGIN = 0.0
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
# Words that carry no topic: kept out of the word features.
_STOP_WORDS = """
    а ал и или да же ли ма ме ба бе па пе ше шы мне меня мен маган
    я ты вы он она мы сиз сен биз ол бул осы это этот эта как кандаи
    пожалуиста подскажите скажите аитынызшы аитыныздаршы
    здравствуите добрыи день салем саламатсыз саламатсызба
    салеметсиз салеметсизбе привет ассалаумагалеикум кайырлы куни
"""
_STOP = frozenset(_STOP_WORDS.split())
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

    @property
    def similarity(self) -> float:
        """Words and meaning together: which unit, among those close enough."""
        return self.lexical + SEMANTIC_WEIGHT * (self.semantic - SEMANTIC_CENTER)

    @property
    def score(self) -> float:
        return self.similarity + INTENT_WEIGHT * self.prior


class UnitRanker:
    """Ranks the knowledge base's entries for one message. Rebuilds itself
    when the knowledge base is reloaded (the entries tuple changes)."""

    def __init__(self, kb: KnowledgeBase, encoder: Encoder | None = None) -> None:
        self.kb = kb
        self.encoder = encoder if encoder is not None else shared_encoder()
        self._vectors: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._built_for: tuple[Entry, ...] | None = None
        self._entries: list[Entry] = []
        self._rows: np.ndarray = np.zeros(0, dtype=np.int64)  # example row -> entry index
        self._n_examples = 0
        self._chars: TfidfVectorizer | None = None
        self._words: TfidfVectorizer | None = None
        self._matrix: Any = None

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

    def _ensure(self) -> None:
        if self._built_for is not self.kb.entries:
            self._build()

    async def prepare(self, *texts: str) -> None:
        """Embed the texts the ranker will be asked about in a worker thread,
        so that the event loop goes on with other citizens meanwhile."""
        self._ensure()
        if not len(self._vectors):
            return
        for text in dict.fromkeys(t for t in texts if t):
            lexical = self._lexical(text)
            if lexical is None or not self._needs_meaning(lexical):
                continue
            if not self.encoder.cached(clean(text)):
                await asyncio.to_thread(self.encoder.query, clean(text))

    def warm(self) -> None:
        """Build the index and load the encoder now (startup), not on the
        first message."""
        self._ensure()
        if len(self._vectors):
            self.encoder.query("дубликат диплома")

    # -- queries ----------------------------------------------------------------
    def _lexical(self, text: str) -> np.ndarray | None:
        self._ensure()
        if self._matrix is None or self._chars is None or self._words is None:
            return None
        folded = " ".join(_GENERIC_RE.sub(" ", fold(text)).split())
        if not folded:
            return None
        from scipy.sparse import hstack

        q = hstack([self._chars.transform([folded]) * 0.8, self._words.transform([folded]) * 0.6])
        q = _normalise_rows(q.tocsr())
        sims = np.asarray((self._matrix @ q.T).todense()).ravel()
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

    def closeness(self, text: str) -> dict[str, tuple[float, float]]:
        """Entry id -> (lexical, semantic) closeness of the message to its
        nearest example question (see Ranked)."""
        lexical = self._lexical(text)
        if lexical is None:
            return {}
        semantic = np.full(len(self._entries), SEMANTIC_CENTER)
        if self._needs_meaning(lexical):
            near = self._vectors @ self.encoder.query(clean(text))
            semantic = np.full(len(self._entries), -1.0)
            np.maximum.at(semantic, self._rows, near)
        return {
            e.id: (float(lex), float(sem))
            for e, lex, sem in zip(self._entries, lexical, semantic, strict=True)
        }

    def similarities(self, text: str) -> dict[str, float]:
        """Entry id -> words and meaning together (Ranked.similarity)."""
        return {
            k: lex + SEMANTIC_WEIGHT * (sem - SEMANTIC_CENTER)
            for k, (lex, sem) in self.closeness(text).items()
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
        far = (0.0, SEMANTIC_CENTER)
        near = self.closeness(text)
        if focus:
            asked = self.closeness(focus)
            near = {
                k: (
                    FOCUS_WEIGHT * asked.get(k, far)[0] + (1 - FOCUS_WEIGHT) * near.get(k, far)[0],
                    FOCUS_WEIGHT * asked.get(k, far)[1] + (1 - FOCUS_WEIGHT) * near.get(k, far)[1],
                )
                for k in set(near) | set(asked)
            }
        ranked = [
            Ranked(
                entry,
                near.get(entry.id, far)[0],
                max((intents.get(i, 0.0) for i in entry.intents), default=0.0),
                near.get(entry.id, far)[1],
            )
            for entry in candidates
        ]
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked


def _normalise_rows(matrix: Any) -> Any:
    from scipy.sparse import csr_matrix, diags

    m = csr_matrix(matrix)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return diags(1.0 / norms) @ m


def cache_example_vectors(kb: KnowledgeBase | None = None, encoder: Encoder | None = None) -> int:
    """Embed every example question of the knowledge base and every NLU
    training example into the encoder's cache file (models/embeddings.npz),
    so that the bot starts without embedding them. `make train` runs it
    (`python -m actions.units`)."""
    from nlu.trainingdata import TRAIN_DIR, read

    kb = kb or KnowledgeBase.load()
    encoder = encoder or shared_encoder()
    texts = [q for e in kb.entries for lang in ("kk", "ru") for q in e.ask.get(lang, ())]
    texts += [e.text for e in read([TRAIN_DIR]).examples]
    return encoder.save(texts)


if __name__ == "__main__":
    import time

    from nlu.embed import CACHE_PATH

    started = time.monotonic()
    count = cache_example_vectors(encoder=Encoder(CACHE_PATH, threads=0))
    print(f"{count} example texts embedded in {time.monotonic() - started:.0f} s")  # noqa: T201
