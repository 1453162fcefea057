"""Answer-level evaluation: did the citizen get the right fact?

`python -m bot.evaluate data/eval/conversations/*.yml [--json OUT] [--min-answer 0.95]`

Each conversation (data/eval/conversations/*.yml) is played through the
whole assistant (the real NLU pipeline with Rasa, the knowledge base, the
booking, application and hand-off flows, a throw-away SQLite database), one
new citizen per conversation, turn by turn as typed text. A scored turn
expects an answer unit (any of a list) or an action (`act:book_queue`), and
a language. A turn is right when the reply leads with an expected unit, is
in the expected language and, for a unit with a clause, carries the
citation; an action turn is right when the assistant started that action in
the right language. Reported overall, per script (kk-cyrillic, kk-latin,
kk-letterless, ru, mixed), per file, with every miss.

The conversations are written apart from the training data and from the
units' example questions (tests/test_eval_data.py checks that none of their
text occurs there after normalisation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from actions.events import Event, Outcome
from actions.i18n import default_translator

SCRIPTS = ("kk-cyrillic", "kk-latin", "kk-letterless", "ru", "mixed")
# Expectations that name an action instead of a unit.
ACT_PREFIX = "act:"
# Every conversation starts on a working Wednesday morning (offices open),
# so that the answers do not depend on the day the evaluation runs.
EVAL_NOW = datetime(2026, 11, 25, 11, 0, tzinfo=ZoneInfo("Asia/Almaty"))


@dataclass
class Turn:
    user: str
    expect: tuple[str, ...] | None
    lang: str | None


@dataclass
class Conversation:
    id: str
    script: str
    source: str
    turns: list[Turn]


@dataclass
class Tally:
    n: int = 0
    unit: int = 0
    lang: int = 0
    cited: int = 0
    right: int = 0

    def add(self, unit: bool, lang: bool, cited: bool) -> None:
        self.n += 1
        self.unit += unit
        self.lang += lang
        self.cited += cited
        self.right += unit and lang and cited

    def to_json(self) -> dict[str, Any]:
        def share(x: int) -> float:
            return round(x / self.n, 4) if self.n else 0.0

        return {
            "turns": self.n,
            "right": share(self.right),
            "right_unit": share(self.unit),
            "right_language": share(self.lang),
            "cited": share(self.cited),
        }


@dataclass
class Report:
    overall: Tally = field(default_factory=Tally)
    by_script: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_file: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    conversations: int = 0
    conversations_right: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)
    degraded: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_json(),
            "conversations": self.conversations,
            "conversations_all_right": round(self.conversations_right / self.conversations, 4)
            if self.conversations
            else 0.0,
            "by_script": {k: v.to_json() for k, v in sorted(self.by_script.items())},
            "by_file": {k: v.to_json() for k, v in sorted(self.by_file.items())},
            "degraded_parses": self.degraded,
            "misses": self.misses,
        }


def load(paths: list[Path]) -> list[Conversation]:
    out: list[Conversation] = []
    seen: set[str] = set()
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for raw in data.get("conversations") or []:
            cid = str(raw["id"])
            if cid in seen:
                raise ValueError(f"{path}: conversation id {cid!r} repeated")
            seen.add(cid)
            script = str(raw.get("script", ""))
            if script not in SCRIPTS:
                raise ValueError(f"{path} [{cid}]: unknown script {script!r}")
            turns = []
            for t in raw.get("turns") or []:
                expect = t.get("expect")
                if isinstance(expect, str):
                    expect = (expect,)
                elif expect is not None:
                    expect = tuple(str(e) for e in expect)
                lang = t.get("lang")
                if expect is not None and lang not in ("kk", "ru"):
                    raise ValueError(f"{path} [{cid}]: a scored turn needs lang kk or ru")
                turns.append(Turn(str(t["user"]), expect, lang))
            out.append(Conversation(cid, script, path.name, turns))
    return out


def judge(turn: Turn, outcome: Outcome, kb: Any) -> tuple[bool, bool, bool]:
    """(right unit or action, right language, cited when the unit has a clause)."""
    expect = turn.expect or ()
    lang_ok = outcome.lang == turn.lang
    acts = [e[len(ACT_PREFIX) :] for e in expect if e.startswith(ACT_PREFIX)]
    if acts and outcome.intent in acts:
        return True, lang_ok, True
    lead = outcome.units[0] if outcome.units else None
    unit_ok = lead is not None and lead in expect
    cited = True
    if unit_ok and lead is not None:
        try:
            entry = kb.get(lead)
        except KeyError:
            entry = None
        if entry is not None and entry.citation is not None:
            marker = default_translator()(outcome.lang, "cite-short", cite="").strip()
            cited = any(marker in r.text for r in outcome.replies)
    return unit_ok, lang_ok, cited


async def run(paths: list[Path], verbose: bool = False) -> Report:
    from bot.app import build_app
    from bot.settings import Settings

    conversations = load(paths)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'eval.db'}",
            redis_url=None,
            bot_token=None,
            staff_chat_id=None,
        )
        async with build_app(settings) as app:
            assistant = app.assistant
            assistant.clock = lambda: EVAL_NOW
            for flow in assistant.flows.values():
                if hasattr(flow, "clock"):
                    flow.clock = lambda: EVAL_NOW
            kb = assistant.kb
            for number, conv in enumerate(conversations, start=1):
                user = 10_000_000 + number
                all_right = True
                for turn in conv.turns:
                    outcome = await assistant.handle(Event(user, text=turn.user))
                    report.degraded += outcome.degraded
                    if turn.expect is None:
                        continue
                    unit_ok, lang_ok, cited = judge(turn, outcome, kb)
                    for tally in (
                        report.overall,
                        report.by_script[conv.script],
                        report.by_file[conv.source],
                    ):
                        tally.add(unit_ok, lang_ok, cited)
                    if not (unit_ok and lang_ok and cited):
                        all_right = False
                        miss = {
                            "conversation": conv.id,
                            "script": conv.script,
                            "text": turn.user,
                            "expected": list(turn.expect),
                            "got_units": outcome.units,
                            "got_intent": outcome.intent,
                            "confidence": round(outcome.confidence, 3),
                            "lang": outcome.lang,
                            "expected_lang": turn.lang,
                            "cited": cited,
                        }
                        report.misses.append(miss)
                        if verbose:
                            print(json.dumps(miss, ensure_ascii=False), file=sys.stderr)  # noqa: T201
                report.conversations += 1
                report.conversations_right += all_right
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluate")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--min-answer", type=float, default=0.0, help="fail below this share")
    parser.add_argument("--verbose", action="store_true", help="print each miss as it happens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    report = asyncio.run(run(args.files, args.verbose))
    data = report.to_json()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    out = sys.stdout
    o = report.overall
    out.write(
        f"answer-level: {report.conversations} conversations, {o.n} scored turns, "
        f"{time.monotonic() - started:.0f} s\n"
    )
    out.write(
        "  {:<14} {:>5} {:>7} {:>7} {:>7} {:>7}\n".format(
            "", "turns", "right", "unit", "lang", "cited"
        )
    )
    rows = [("overall", o), *sorted(report.by_script.items())]
    for name, t in rows:
        j = t.to_json()
        out.write(
            f"  {name:<14} {t.n:>5} {j['right']:>7.3f} {j['right_unit']:>7.3f} "
            f"{j['right_language']:>7.3f} {j['cited']:>7.3f}\n"
        )
    out.write(f"  conversations all right: {data['conversations_all_right']:.3f}\n")
    out.write(f"  misses: {len(report.misses)}; degraded parses: {report.degraded}\n")
    for miss in report.misses[:40]:
        out.write(
            f"    [{miss['script']}] {miss['text'][:70]!r} expected {miss['expected']} got "
            f"{miss['got_units'][:1] or miss['got_intent']} ({miss['lang']})\n"
        )
    share = o.right / o.n if o.n else 0.0
    if share < args.min_answer:
        out.write(f"FAIL: answer-level {share:.3f} < {args.min_answer}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
