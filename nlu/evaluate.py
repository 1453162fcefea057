"""Evaluation of the full pipeline on held-out NLU files."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.normalize import fold
from nlu.pipeline import FALLBACK_INTENT, NLU, REQUEST_INTENTS, ParseResult
from nlu.trainingdata import Example, parse_annotated, read_file

TRANSLIT_VARIANTS = ("latin", "letterless")
SMALL_TALK = frozenset(
    {"greet", "goodbye", "thank", "help", "switch_language", "affirm", "deny", "out_of_scope"}
)
CONFIDENT = 0.45
# A message that opens with a greeting (folded text).
GREETING_RE = re.compile(
    r"^(?:здравствуи|здрасьте|здрасте|добр(?:ыи|ое|ого)\b|привет|салем|салам|"
    r"саламатсыз|ассалаум|каиырлы|армысыз|хеллоу?\b|хаи\b)"
)


@dataclass(frozen=True)
class Pair:
    """A known confusion: examples of `expected` that went to `predicted`."""

    name: str
    expected: frozenset[str]
    predicted: str


# The confusions seen on citizens' messages, counted on every evaluation.
CONFUSION_PAIRS: tuple[Pair, ...] = (
    Pair("cancel_booking -> my_bookings", frozenset({"cancel_booking"}), "my_bookings"),
    Pair("check_status -> ask_pickup", frozenset({"check_status"}), "ask_pickup"),
    Pair("check_status -> ask_where_to_apply", frozenset({"check_status"}), "ask_where_to_apply"),
    Pair("check_status -> ask_processing_time", frozenset({"check_status"}), "ask_processing_time"),
    Pair("ask_fee -> ask_contacts", frozenset({"ask_fee"}), "ask_contacts"),
    Pair("ask_documents -> ask_representative", frozenset({"ask_documents"}), "ask_representative"),
    Pair(
        "documents/where -> ask_university_closed",
        frozenset({"ask_documents", "ask_where_to_apply"}),
        "ask_university_closed",
    ),
    Pair(
        "documents/where -> my_bookings",
        frozenset({"ask_documents", "ask_where_to_apply"}),
        "my_bookings",
    ),
    Pair("book_queue -> ask_queue_rules", frozenset({"book_queue"}), "ask_queue_rules"),
    Pair(
        "submit_application -> ask_where_to_apply",
        frozenset({"submit_application"}),
        "ask_where_to_apply",
    ),
)
GREET_OVER_QUESTION = "greeting + question -> greet"
QUESTION_TO_FALLBACK = "question -> nlu_fallback"


@dataclass
class Scores:
    n: int = 0
    correct: int = 0
    f1: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class EntityScores:
    """service/channel entities annotated in the test files, found or not."""

    expected: int = 0
    found: int = 0
    examples: int = 0
    examples_all_found: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 0.0


@dataclass
class FollowupScores:
    """Short follow-ups ("а через ЦОН?", "ал портал ше"): scored on their
    service/channel and on not being taken for a request, not on intent."""

    n: int = 0
    entity_found: int = 0
    with_entity: int = 0
    not_request: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    by_language: dict[str, Scores] = field(default_factory=dict)
    overall: Scores = field(default_factory=Scores)
    translit: Scores = field(default_factory=Scores)
    by_variant: dict[str, Scores] = field(default_factory=dict)
    language_detection: Scores = field(default_factory=Scores)
    confused: list[tuple[str, str, int]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    degraded: int = 0
    # per test file (its stem), per language
    by_file: dict[str, dict[str, Scores]] = field(default_factory=dict)
    # name -> (count, n examples of the expected intent(s))
    pairs: dict[str, tuple[int, int]] = field(default_factory=dict)
    entities: EntityScores = field(default_factory=EntityScores)
    followups: FollowupScores = field(default_factory=FollowupScores)

    def to_json(self) -> dict[str, Any]:
        def s(x: Scores) -> dict[str, Any]:
            return {"n": x.n, "accuracy": round(x.accuracy, 4), "macro_f1": round(x.f1, 4)}

        return {
            "overall": s(self.overall),
            "by_language": {k: s(v) for k, v in sorted(self.by_language.items())},
            "kk_latin_and_letterless": s(self.translit),
            "by_variant": {k: s(v) for k, v in sorted(self.by_variant.items())},
            "language_detection": s(self.language_detection),
            "most_confused": [
                {"expected": a, "predicted": b, "count": c} for a, b, c in self.confused
            ],
            "degraded_parses": self.degraded,
            "by_file": {
                f: {k: s(v) for k, v in sorted(langs.items())}
                for f, langs in sorted(self.by_file.items())
            },
            "confusion_pairs": [
                {"pair": name, "count": c, "n_expected": n} for name, (c, n) in self.pairs.items()
            ],
            "entities": {
                "expected": self.entities.expected,
                "found": self.entities.found,
                "recall": round(self.entities.recall, 4),
                "examples": self.entities.examples,
                "examples_all_found": self.entities.examples_all_found,
            },
            "followups": {
                "n": self.followups.n,
                "with_entity": self.followups.with_entity,
                "entity_found": self.followups.entity_found,
                "not_taken_for_request": self.followups.not_request,
                "errors": self.followups.errors,
            },
            "errors": self.errors,
        }


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = sorted({g for g, _ in pairs})
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        total += 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return total / len(labels)


def _score(pairs: list[tuple[str, str]]) -> Scores:
    return Scores(len(pairs), sum(1 for g, p in pairs if g == p), macro_f1(pairs))


def _followup_texts(path: Path) -> set[str]:
    """Examples in blocks marked `metadata: {followup: true}`."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts: set[str] = set()
    for block in doc.get("nlu") or []:
        meta = block.get("metadata") or {}
        if "intent" in block and isinstance(meta, dict) and meta.get("followup"):
            raw = block.get("examples") or ""
            for line in str(raw).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    texts.add(parse_annotated(line[2:].strip())[0])
    return texts


def _test_files(files: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in files:
        out += sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    return out


def _expected_entities(ex: Example) -> set[tuple[str, str]]:
    return {(e.entity, e.value) for e in ex.entities if e.entity in ("service", "channel")}


def _found_entities(res: ParseResult) -> set[tuple[str, str]]:
    return {(str(e["entity"]), str(e["value"])) for e in res.entities}


async def evaluate(nlu: NLU, files: list[Path], concurrency: int = 8) -> Report:
    tagged: list[tuple[Example, str, bool]] = []
    for path in _test_files(files):
        followups = _followup_texts(path)
        for ex in read_file(path).examples:
            tagged.append((ex, path.stem, ex.text in followups))
    sem = asyncio.Semaphore(concurrency)

    async def one(item: tuple[Example, str, bool]) -> tuple[Example, str, bool, ParseResult]:
        ex, stem, followup = item
        async with sem:
            return ex, stem, followup, await nlu.parse(ex.text)

    everything = await asyncio.gather(*(one(t) for t in tagged))
    report = Report()
    _score_followups(report, [(ex, res) for ex, _, f, res in everything if f])
    results = [(ex, res) for ex, _, f, res in everything if not f]
    per_file: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for ex, stem, f, res in everything:
        if not f:
            per_file[stem][ex.lang or res.language].append((ex.intent, res.intent))
    all_pairs: list[tuple[str, str]] = []
    per_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    per_variant: dict[str, list[tuple[str, str]]] = defaultdict(list)
    translit: list[tuple[str, str]] = []
    lang_pairs: list[tuple[str, str]] = []
    confusion: Counter[tuple[str, str]] = Counter()
    for ex, res in results:
        pair = (ex.intent, res.intent)
        all_pairs.append(pair)
        lang = ex.lang or res.language
        per_lang[lang].append(pair)
        if ex.variant:
            per_variant[f"{lang}-{ex.variant}"].append(pair)
        if lang == "kk" and ex.variant in TRANSLIT_VARIANTS:
            translit.append(pair)
        if ex.lang:
            lang_pairs.append((ex.lang, res.language))
        if res.degraded:
            report.degraded += 1
        if ex.intent != res.intent:
            confusion[pair] += 1
            report.errors.append(
                {
                    "text": ex.text,
                    "lang": lang,
                    "expected": ex.intent,
                    "predicted": res.intent,
                    "confidence": round(res.confidence, 3),
                }
            )
    report.overall = _score(all_pairs)
    report.by_language = {k: _score(v) for k, v in per_lang.items()}
    report.by_variant = {k: _score(v) for k, v in per_variant.items()}
    report.translit = _score(translit)
    report.language_detection = _score(lang_pairs)
    report.confused = [(a, b, c) for (a, b), c in confusion.most_common(10)]
    report.by_file = {
        stem: {lang: _score(pairs) for lang, pairs in langs.items()}
        for stem, langs in per_file.items()
    }
    report.pairs = confusion_pairs(results)
    report.entities = _score_entities(results)
    return report


def confusion_pairs(results: list[tuple[Example, ParseResult]]) -> dict[str, tuple[int, int]]:
    """For each known confusion, how many test examples of the expected
    intent(s) went to the confused one, out of how many."""
    out: dict[str, tuple[int, int]] = {}
    for pair in CONFUSION_PAIRS:
        of = [res.intent for ex, res in results if ex.intent in pair.expected]
        out[pair.name] = (sum(1 for p in of if p == pair.predicted), len(of))
    greeted = [
        res.intent
        for ex, res in results
        if ex.intent not in SMALL_TALK and GREETING_RE.match(fold(ex.text))
    ]
    out[GREET_OVER_QUESTION] = (sum(1 for p in greeted if p == "greet"), len(greeted))
    questions = [res.intent for ex, res in results if ex.intent not in SMALL_TALK]
    out[QUESTION_TO_FALLBACK] = (
        sum(1 for p in questions if p == FALLBACK_INTENT),
        len(questions),
    )
    return out


def _score_entities(results: list[tuple[Example, ParseResult]]) -> EntityScores:
    scores = EntityScores()
    for ex, res in results:
        expected = _expected_entities(ex)
        if not expected:
            continue
        hit = expected & _found_entities(res)
        scores.examples += 1
        scores.expected += len(expected)
        scores.found += len(hit)
        scores.examples_all_found += hit == expected
    return scores


def _score_followups(report: Report, results: list[tuple[Example, ParseResult]]) -> None:
    fu = report.followups
    for ex, res in results:
        fu.n += 1
        expected = _expected_entities(ex)
        found = expected <= _found_entities(res)
        request = res.intent in REQUEST_INTENTS and res.confidence >= CONFIDENT
        if expected:
            fu.with_entity += 1
            fu.entity_found += found
        fu.not_request += not request
        if request or not found:
            fu.errors.append(
                {
                    "text": ex.text,
                    "expected_entities": sorted(f"{e}={v}" for e, v in expected),
                    "entities": sorted(f"{e}={v}" for e, v in _found_entities(res)),
                    "predicted": res.intent,
                    "confidence": round(res.confidence, 3),
                }
            )


def format_report(report: Report) -> str:
    lines = [f"{'':28} {'n':>5} {'accuracy':>9} {'macro-F1':>9}"]

    def row(name: str, s: Scores) -> None:
        lines.append(f"{name:28} {s.n:5d} {s.accuracy:9.3f} {s.f1:9.3f}")

    for lang, s in sorted(report.by_language.items()):
        row(f"intent {lang}", s)
    row("intent overall", report.overall)
    row("kk latin + letterless", report.translit)
    for name, s in sorted(report.by_variant.items()):
        row(f"  {name}", s)
    row("language detection", report.language_detection)
    if report.degraded:
        lines.append(f"degraded parses (Rasa unavailable): {report.degraded}")
    if len(report.by_file) > 1:
        lines.append("by file:")
        for stem, langs in sorted(report.by_file.items()):
            for lang, s in sorted(langs.items()):
                row(f"  {stem} {lang}", s)
    if report.confused:
        lines.append("most confused (expected -> predicted):")
        lines += [f"  {a} -> {b}: {c}" for a, b, c in report.confused]
    if report.pairs:
        lines.append("known confusion pairs (went to the confused intent / examples expected):")
        lines += [f"  {name:44} {c:3d} / {n}" for name, (c, n) in report.pairs.items()]
    e = report.entities
    if e.expected:
        lines.append(
            f"service/channel entities: {e.found}/{e.expected} found (recall {e.recall:.3f}),"
            f" all found in {e.examples_all_found}/{e.examples} examples"
        )
    fu = report.followups
    if fu.n:
        lines.append(
            f"follow-ups: {fu.n}, entity found {fu.entity_found}/{fu.with_entity},"
            f" not taken for a request {fu.not_request}/{fu.n}"
        )
        lines += [
            f"  {x['text']!r}: {x['predicted']} {x['confidence']}, entities {x['entities']}"
            for x in fu.errors
        ]
    return "\n".join(lines)
