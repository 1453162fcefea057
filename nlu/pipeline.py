"""The full understanding pipeline: normalise, Rasa (or the fallback), entities,
language. This is what the assistant and the command lines call."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nlu import entities as ents
from nlu.light import LightModels, load_or_train
from nlu.normalize import clean, fold, has_letters
from nlu.rasa import DEFAULT_URL, MODEL_DIR, RasaClient, RasaServer, RasaUnavailable, start_server
from nlu.trainingdata import TRAIN_DIR

log = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
# Below this share of familiar letter trigrams a message is treated as noise.
MIN_FAMILIARITY = 0.6


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

    def entity(self, name: str) -> str | None:
        for e in self.entities:
            if e["entity"] == name:
                return str(e["value"])
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NLUStats:
    rasa_ok: int = 0
    rasa_failed: int = 0
    degraded: int = 0
    last_failure: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


class NLU:
    """Understands one message. Uses Rasa when it answers; otherwise the light
    classifier, and says so (`degraded=True`). After a failure Rasa is not
    asked again for `retry_after` seconds, then it is tried again, so a
    restarted server is picked up without restarting the bot."""

    def __init__(
        self,
        client: RasaClient | None,
        light: LightModels,
        *,
        retry_after: float = 3.0,
    ) -> None:
        self.client = client
        self.light = light
        self.retry_after = retry_after
        self.stats = NLUStats()
        self._down_until = 0.0
        self.server: RasaServer | None = None

    @classmethod
    async def create(
        cls,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        start: bool = True,
        data_dir: Path = TRAIN_DIR,
        timeout: float = 2.0,
    ) -> NLU:
        """Build the pipeline; start our own Rasa server when none answers at
        `url` (loopback only) and `start` is set."""
        light = await asyncio.to_thread(load_or_train, data_dir, MODEL_DIR)
        client = RasaClient(url, token, timeout=timeout)
        nlu = cls(client, light)
        if not await client.ready():
            host = urlsplit(url).hostname or ""
            if start and host in ("127.0.0.1", "localhost", "::1"):
                await client.close()
                nlu.server = await start_server(url, token=token)
                nlu.client = RasaClient(nlu.server.url, nlu.server.token, timeout=timeout)
            else:
                log.warning("Rasa server at %s does not answer: degraded mode", url)
        return nlu

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def parse(self, text: str) -> ParseResult:
        started = time.perf_counter()
        cleaned = clean(text)
        normalized = fold(cleaned)
        language, lang_conf = self.light.detect_language(cleaned)
        if not has_letters(normalized):
            result = ParseResult(
                cleaned, normalized, FALLBACK_INTENT, 0.0, [], [], language, 0.0, False, "rule"
            )
            result.entities = [asdict(f) for f in ents.patterns(cleaned)]
            return result

        raw: dict[str, Any] | None = None
        if self.client is not None and time.monotonic() >= self._down_until:
            try:
                raw = await self.client.parse(normalized)
                self.stats.rasa_ok += 1
            except RasaUnavailable as exc:
                self.stats.rasa_failed += 1
                self.stats.last_failure = time.time()
                self._down_until = time.monotonic() + self.retry_after
                log.warning("NLU degraded: Rasa unavailable (%s)", exc)

        if raw is not None:
            ranking = [
                {"name": str(r["name"]), "confidence": float(r["confidence"])}
                for r in raw.get("intent_ranking") or []
            ]
            intent = str((raw.get("intent") or {}).get("name") or FALLBACK_INTENT)
            confidence = float((raw.get("intent") or {}).get("confidence") or 0.0)
            found = ents.merge(list(raw.get("entities") or []), cleaned)
            degraded, source = False, "rasa"
        else:
            self.stats.degraded += 1
            ranked = self.light.rank_intents(normalized)
            ranking = [{"name": n, "confidence": c} for n, c in ranked]
            intent, confidence = ranked[0]
            found = ents.merge([], cleaned)
            degraded, source = True, "fallback"

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
        )
