"""Evaluation of the full pipeline on held-out NLU files."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.pipeline import NLU, ParseResult
from nlu.trainingdata import Example, read

TRANSLIT_VARIANTS = ("latin", "letterless")


@dataclass
class Scores:
    n: int = 0
    correct: int = 0
    f1: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


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


async def evaluate(nlu: NLU, files: list[Path], concurrency: int = 8) -> Report:
    data = read(files)
    sem = asyncio.Semaphore(concurrency)

    async def one(ex: Example) -> tuple[Example, ParseResult]:
        async with sem:
            return ex, await nlu.parse(ex.text)

    results = await asyncio.gather(*(one(e) for e in data.examples))
    report = Report()
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
    return report


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
    if report.confused:
        lines.append("most confused (expected -> predicted):")
        lines += [f"  {a} -> {b}: {c}" for a, b, c in report.confused]
    return "\n".join(lines)
