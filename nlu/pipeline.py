"""The full understanding pipeline: normalise, Rasa (or the fallback), entities,
language. This is what the assistant and the command lines call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from scipy.special import expit, softmax

from nlu import entities as ents
from nlu.cache import SharedParseCache
from nlu.embed import NEIGHBOUR_GATE, IntentNeighbours
from nlu.embed import enabled as embeddings_enabled
from nlu.light import MIXED_SURE, LightModels, _lang_view, grammar_vote, load_or_train
from nlu.normalize import clean, fold, has_letters
from nlu.rasa import (
    DEFAULT_URL,
    MODEL_DIR,
    RasaClient,
    RasaPool,
    RasaServer,
    RasaUnavailable,
    server_urls,
    start_server,
)
from nlu.trainingdata import TRAIN_DIR

log = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
# Requests to do something (the dialogue acts on them at once): never a
# follow-up to the question before them ("а через ЦОН?" is not one). One list
# for the assistant and the evaluation.
REQUEST_INTENTS = frozenset(
    {
        "book_queue",
        "cancel_booking",
        "my_bookings",
        "check_status",
        "submit_application",
        "request_operator",
    }
)
# Below this share of familiar letter trigrams a message is treated as noise.
MIN_FAMILIARITY = 0.6
# Recent texts whose parse is kept (per process): a repeated message costs
# no Rasa call and no embedding. Degraded parses are not kept.
PARSE_CACHE = 4096
# Seconds a message waits for Rasa before the fallback classifier answers it
# (NLU.slow_after; `NLU_SLOW_AFTER`). Rasa alone parses in ~7 ms; a queue of
# this length means a burst bigger than the servers can take.
SLOW_AFTER = 1.5


@dataclass
class ParseResult:
    text: str
    normalized: str
    intent: str
    confidence: float
    ranking: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    language: str
    language_confidence: float
    degraded: bool = False
    source: str = "rasa"
    # Written in both languages; `language` is the one most of its words are in.
    mixed: bool = False

    def entity(self, name: str) -> str | None:
        for e in self.entities:
            if e["entity"] == name:
                return str(e["value"])
        return None

    def values(self, name: str) -> set[str]:
        """Every value of entity `name` in the message ("ЦОН и вуз": both)."""
        return {str(e["value"]) for e in self.entities if e["entity"] == name}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _shareable(cleaned: str) -> bool:
    """A text whose parse may go to the shared cache: no digits (an IIN, a
    phone, a booking number is personal, and rarely repeated anyway)."""
    return not any(ch.isdigit() for ch in cleaned)


def _copy(result: ParseResult) -> ParseResult:
    """A parse the caller may change (the assistant narrows entities and
    language of a focused parse) without changing the cached one."""
    return replace(
        result,
        ranking=[dict(r) for r in result.ranking],
        entities=[dict(e) for e in result.entities],
    )


class LinearScorer:
    """`predict_proba` of a fitted text pipeline (TF-IDF vectorisers, alone
    or in a FeatureUnion, then a LogisticRegression) for one text, without
    scikit-learn's per-call machinery: input validation, joblib's
    sequential "parallel" loop, sparse matrices built and stacked. For one
    short message those cost ~3 ms, the arithmetic a few microseconds.
    Same numbers as `predict_proba` (tests/telegram check it on the
    training data); `compile` returns None for a pipeline of another shape,
    and the caller keeps scikit-learn then."""

    def __init__(
        self,
        blocks: list[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, bool, int]],
        weights: np.ndarray,
        intercept: np.ndarray,
        classes: list[str],
    ) -> None:
        self.blocks = blocks  # (analyzer, vocabulary, idf, sublinear tf, column offset)
        self.weights = weights  # (features, classes), or (features, 1) when binary
        self.intercept = intercept
        self.classes = classes
        self.binary = weights.shape[1] == 1

    @classmethod
    def compile(cls, pipeline: Any) -> LinearScorer | None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            return None
        features, clf = pipeline.steps[0][1], pipeline.steps[1][1]
        if isinstance(features, TfidfVectorizer):
            vectorizers = [features]
        elif isinstance(features, FeatureUnion) and features.transformer_weights is None:
            vectorizers = [t for _, t in features.transformer_list]
        else:
            return None
        if not isinstance(clf, LogisticRegression) or getattr(clf, "multi_class", "auto") not in (
            "auto",
            "multinomial",
            "deprecated",
        ):
            return None
        blocks = []
        offset = 0
        for v in vectorizers:
            if (
                not isinstance(v, TfidfVectorizer)
                or v.norm != "l2"
                or not v.use_idf
                or v.binary
                or v.vocabulary_ is None
            ):
                return None
            blocks.append(
                (
                    v.build_analyzer(),
                    dict(v.vocabulary_),
                    np.asarray(v.idf_),
                    v.sublinear_tf,
                    offset,
                )
            )
            offset += len(v.vocabulary_)
        coef = np.asarray(clf.coef_, dtype=np.float64)
        if coef.shape[1] != offset:
            return None
        return cls(
            blocks,
            np.ascontiguousarray(coef.T),
            np.asarray(clf.intercept_, dtype=np.float64),
            [str(c) for c in clf.classes_],
        )

    def predict_proba(self, text: str) -> np.ndarray:
        columns: list[int] = []
        values: list[float] = []
        for analyze, vocabulary, idf, sublinear, offset in self.blocks:
            counts: dict[int, int] = {}
            for term in analyze(text):
                j = vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            block = [
                ((math.log(n) + 1.0) if sublinear else float(n)) * float(idf[j])
                for j, n in counts.items()
            ]
            norm = math.sqrt(math.fsum(x * x for x in block))
            if norm > 0.0:
                block = [x / norm for x in block]
            columns.extend(j + offset for j in counts)
            values.extend(block)
        if columns:
            scores = np.asarray(values) @ self.weights[columns] + self.intercept
        else:
            scores = self.intercept.copy()
        if self.binary:
            p = float(expit(scores[0]))
            return np.array([1.0 - p, p])
        return np.asarray(softmax(scores))


@dataclass
class NLUStats:
    rasa_ok: int = 0
    rasa_failed: int = 0
    # Parses answered from the cache of recent texts (PARSE_CACHE), and from
    # the cache shared by the workers (nlu/cache.py).
    cache_hits: int = 0
    shared_hits: int = 0
    degraded: int = 0
    # Parses Rasa did not give within `NLU.slow_after` (a long queue): that
    # message was answered by the fallback classifier, Rasa stayed in.
    slow: int = 0
    last_failure: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    # The Rasa server the bot started: how often it died, was started again,
    # and how long the bot ran on the fallback classifier because of it.
    server_exits: int = 0
    server_restarts: int = 0
    degraded_seconds: float = 0.0  # of the outages that ended
    degraded_since: float | None = None  # monotonic; while the server is down

    @property
    def degraded_minutes(self) -> float:
        """Minutes without our Rasa server, the current outage included."""
        now = time.monotonic()
        current = 0.0 if self.degraded_since is None else now - self.degraded_since
        return (self.degraded_seconds + current) / 60


# The server the bot started is looked at this often; once it exited it is
# started again, after RESTART_BASE seconds, doubled after each failed start,
# at most RESTART_CAP.
WATCH_EVERY = 1.0
RESTART_BASE = 1.0
RESTART_CAP = 60.0
# A restart may take long on a busy machine (TensorFlow and the model load):
# one given up on too early is killed nearly ready and begun again.
RESTART_TIMEOUT = 600.0


class NLU:
    """Understands one message. Uses Rasa when it answers; otherwise the light
    classifier, and says so (`degraded=True`). After a failure Rasa is not
    asked again for `retry_after` seconds, then it is tried again, so a
    restarted server is picked up without restarting the bot.

    A Rasa server the bot started itself is watched: when it exits it is
    started again (same port, same token) with backoff, the fallback
    classifier answering meanwhile; the time spent degraded is counted
    (`stats.degraded_minutes`) and logged."""

    def __init__(
        self,
        client: RasaClient | RasaPool | None,
        light: LightModels,
        *,
        retry_after: float = 3.0,
        slow_after: float | None = SLOW_AFTER,
        neighbours: IntentNeighbours | None = None,
    ) -> None:
        self.client = client
        # A parse Rasa has not given after this many seconds is given up for
        # that message only (the fallback classifier answers it): a long
        # queue at Rasa never holds a citizen's reply, and does not take Rasa
        # out for the others as a failure does. None: wait for the client's
        # own timeout.
        self.slow_after = slow_after
        self.light = light
        # A second opinion, in meaning, when DIET is unsure (nlu/embed.py).
        self.neighbours = neighbours
        self.retry_after = retry_after
        self.stats = NLUStats()
        self._down_until = 0.0
        self.server: RasaServer | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.watch_every = WATCH_EVERY
        self.restart_base = RESTART_BASE
        self.restart_cap = RESTART_CAP
        self.restart_timeout = RESTART_TIMEOUT
        self._parsed: OrderedDict[str, ParseResult] = OrderedDict()
        self._parsed_version: str | None = None
        self._model_unsure = False
        # The parse cache every worker shares (Redis), when there is one.
        self.shared: SharedParseCache | None = None
        self._lang_scorer = LinearScorer.compile(light.language)
        self._intent_scorer = LinearScorer.compile(light.intent)

    def detect_language(self, cleaned: str) -> tuple[str, float]:
        """`LightModels.detect_language`, through the fast scorer when it compiled."""
        scorer = self._lang_scorer
        if scorer is None:
            return self.light.detect_language(cleaned)
        text = clean(cleaned)
        if not any(ch.isalpha() for ch in text):
            return "ru", 0.0
        probs = scorer.predict_proba(_lang_view(text))
        kk = float(probs[scorer.classes.index("kk")])
        if kk >= 0.5:
            return grammar_vote(text, "kk", kk)
        return grammar_vote(text, "ru", 1.0 - kk)

    def rank_intents(self, folded_text: str, top: int = 10) -> list[tuple[str, float]]:
        """`LightModels.rank_intents`, through the fast scorer when it compiled."""
        scorer = self._intent_scorer
        if scorer is None:
            return self.light.rank_intents(folded_text, top)
        probs = scorer.predict_proba(folded_text)
        order = np.argsort(probs)[::-1][:top]
        return [(scorer.classes[i], float(probs[i])) for i in order]

    @classmethod
    async def create(
        cls,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        start: bool = True,
        data_dir: Path = TRAIN_DIR,
        timeout: float = 2.0,
        start_timeout: float = 180.0,
        slow_after: float | None = SLOW_AFTER,
    ) -> NLU:
        """Build the pipeline; start our own Rasa server when none answers at
        `url` (loopback only) and `start` is set."""
        light = await asyncio.to_thread(load_or_train, data_dir, MODEL_DIR)
        neighbours = (
            await asyncio.to_thread(IntentNeighbours.from_training, data_dir)
            if embeddings_enabled()
            else None
        )
        urls = server_urls(url) or [DEFAULT_URL]
        client: RasaClient | RasaPool
        if len(urls) > 1:
            # Several servers (production): none is started here, each one is
            # run on its own (deploy/); the pool takes out those that fail.
            client = RasaPool(urls, token, timeout=timeout)
        else:
            client = RasaClient(urls[0], token, timeout=timeout)
        nlu = cls(client, light, neighbours=neighbours, slow_after=slow_after)
        if not await client.ready():
            host = urlsplit(urls[0]).hostname or ""
            if start and len(urls) == 1 and host in ("127.0.0.1", "localhost", "::1"):
                await client.close()
                nlu.server = await start_server(urls[0], token=token, timeout=start_timeout)
                nlu.client = RasaClient(nlu.server.url, nlu.server.token, timeout=timeout)
                await nlu.client.ready()  # learns the model's id
                nlu.watch_server()
            else:
                log.warning("Rasa server at %s does not answer: degraded mode", url)
        return nlu

    def watch_server(self) -> None:
        """Start watching `self.server` (the one the bot started)."""
        if self.server is not None and (self._watchdog is None or self._watchdog.done()):
            self._watchdog = asyncio.create_task(self._watch(), name="rasa-watchdog")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_every)
            server = self.server
            if server is None:
                return
            if not server.exited:
                continue
            try:
                await self._restart(server)
            except Exception:  # a bug here must not end the watching
                log.exception("Rasa watchdog: restart failed")

    async def _restart(self, dead: RasaServer) -> None:
        self.stats.server_exits += 1
        self.stats.degraded_since = time.monotonic()
        # Not asked meanwhile: the fallback answers at once, without a refused
        # connection and a warning per message.
        self._down_until = math.inf
        log.error(
            "Rasa server exited (code %s): the fallback classifier answers until it is back",
            dead.process.returncode,
        )
        delay = self.restart_base
        while self.server is dead:
            try:
                fresh = await start_server(
                    dead.url,
                    model=dead.model,
                    token=dead.token,
                    log_path=dead.log_path,
                    timeout=self.restart_timeout,
                )
            except Exception as exc:  # the port still taken, no memory, a broken model …
                log.error(
                    "Rasa server not restarted (%s: %s); next try in %.0f s "
                    "(%.1f min degraded so far)",
                    type(exc).__name__,
                    str(exc).splitlines()[0][:200] if str(exc) else "",
                    delay,
                    self.stats.degraded_minutes,
                )
                await asyncio.sleep(delay)
                delay = min(self.restart_cap, delay * 2)
                continue
            if self.server is not dead:  # closed meanwhile
                await fresh.stop()
                return
            self.server = fresh
            since, self.stats.degraded_since = self.stats.degraded_since, None
            lasted = time.monotonic() - (since or time.monotonic())
            self.stats.degraded_seconds += lasted
            self.stats.server_restarts += 1
            self._down_until = 0.0
            log.warning(
                "Rasa server restarted: %.1f s degraded this time, %.1f min in all",
                lasted,
                self.stats.degraded_minutes,
            )

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watchdog
            self._watchdog = None
        if self.client is not None:
            await self.client.close()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    @property
    def version(self) -> str | None:
        """What a parse depends on: the Rasa model(s) answering and the bot's
        own training data. None while no Rasa model is known."""
        model = self.client.model_id if self.client is not None else None
        if not model:
            return None
        return f"{model}:{self.light.data_hash[:12]}"

    async def parse(self, text: str) -> ParseResult:
        cleaned = clean(text)
        version = self.version
        if version != self._parsed_version:
            # A new model answers now: the old one's parses are not its own.
            self._parsed.clear()
            self._parsed_version = version
        known = self._parsed.get(cleaned)
        if known is not None:
            # Citizens repeat themselves ("здравствуйте", "спасибо", the menu's
            # words, the common questions): the same model gives the same parse.
            self._parsed.move_to_end(cleaned)
            self.stats.cache_hits += 1
            return _copy(known)
        shareable = self.shared is not None and version is not None and _shareable(cleaned)
        if shareable:
            assert self.shared is not None and version is not None
            value = await self.shared.get(version, cleaned)
            if value is not None:
                with contextlib.suppress(TypeError, KeyError, ValueError):
                    result = ParseResult(text=cleaned, normalized=fold(cleaned), **value)
                    self._remember(cleaned, result)
                    self.stats.shared_hits += 1
                    return result
        result = await self._parse(cleaned)
        if not result.degraded:
            self._remember(cleaned, result)
            if shareable and self.version == version:
                assert self.shared is not None and version is not None
                # Without the words themselves: the key is their hash.
                value = result.to_json()
                del value["text"], value["normalized"]
                await self.shared.put(version, cleaned, value)
        return result

    def _remember(self, cleaned: str, result: ParseResult) -> None:
        self._parsed[cleaned] = _copy(result)
        if len(self._parsed) > PARSE_CACHE:
            self._parsed.popitem(last=False)

    async def _parse(self, cleaned: str) -> ParseResult:
        started = time.perf_counter()
        normalized = fold(cleaned)
        language, lang_conf = self.detect_language(cleaned)
        mixed = self.light.mixed_language(cleaned)
        if mixed is not None:
            lang_conf = max(lang_conf, MIXED_SURE) if mixed == language else MIXED_SURE
            language = mixed
        if not has_letters(normalized):
            result = ParseResult(
                cleaned, normalized, FALLBACK_INTENT, 0.0, [], [], language, 0.0, False, "rule"
            )
            result.entities = [asdict(f) for f in ents.patterns(cleaned)]
            return result

        raw: dict[str, Any] | None = None
        slow = False
        if self.client is not None and time.monotonic() >= self._down_until:
            try:
                raw = await asyncio.wait_for(self.client.parse(normalized), self.slow_after)
                self.stats.rasa_ok += 1
                if self._model_unsure:
                    # Back after a failure: maybe with another model.
                    self._model_unsure = False
                    await self.client.ready()
            except TimeoutError:
                # Only this message waited too long (the client's own timeout
                # is a RasaUnavailable): Rasa is busy, not gone.
                slow = True
                self.stats.slow += 1
                log.info(
                    "NLU slow: no parse within %.1f s, fallback for this message", self.slow_after
                )
            except RasaUnavailable as exc:
                self._model_unsure = True
                self.stats.rasa_failed += 1
                self.stats.last_failure = time.time()
                self._down_until = time.monotonic() + self.retry_after
                log.warning("NLU degraded: Rasa unavailable (%s)", exc)

        if raw is not None:
            ranking: list[dict[str, Any]] = [
                {"name": str(r["name"]), "confidence": float(r["confidence"])}
                for r in raw.get("intent_ranking") or []
            ]
            intent = str((raw.get("intent") or {}).get("name") or FALLBACK_INTENT)
            confidence = float((raw.get("intent") or {}).get("confidence") or 0.0)
            if (
                self.neighbours is not None
                and intent != FALLBACK_INTENT
                and confidence < NEIGHBOUR_GATE
                and ranking
            ):
                ranking = await asyncio.to_thread(self.neighbours.rerank, cleaned, ranking)
                intent, confidence = str(ranking[0]["name"]), float(ranking[0]["confidence"])
            elif self.neighbours is not None and intent == FALLBACK_INTENT:
                known = [r for r in ranking if r["name"] != FALLBACK_INTENT]
                rescued = await asyncio.to_thread(self.neighbours.rescue, cleaned, known)
                if rescued is not None:
                    ranking = rescued
                    intent, confidence = str(ranking[0]["name"]), float(ranking[0]["confidence"])
            found = ents.merge(list(raw.get("entities") or []), cleaned)
            degraded, source = False, "rasa"
        else:
            self.stats.degraded += 1
            ranked = self.rank_intents(normalized)
            ranking = [{"name": n, "confidence": c} for n, c in ranked]
            intent, confidence = ranked[0]
            found = ents.merge([], cleaned)
            degraded, source = True, "slow" if slow else "fallback"

        if self.light.familiarity(normalized) < MIN_FAMILIARITY:
            # Keyboard mashing gets confident-looking guesses from any
            # classifier; keep the ranking for suggestions, drop the intent.
            intent, confidence = FALLBACK_INTENT, 0.0

        self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        if len(self.stats.latencies_ms) > 10_000:
            del self.stats.latencies_ms[:5_000]
        return ParseResult(
            text=cleaned,
            normalized=normalized,
            intent=intent,
            confidence=confidence,
            ranking=[r for r in ranking if r["name"] != FALLBACK_INTENT],
            entities=[asdict(f) for f in found],
            language=language,
            language_confidence=lang_conf,
            degraded=degraded,
            source=source,
            mixed=mixed is not None,
        )
