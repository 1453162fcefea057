"""Command line: `python -m nlu parse|evaluate|train|serve`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from nlu.evaluate import evaluate, format_report
from nlu.light import load_or_train
from nlu.pipeline import NLU
from nlu.rasa import DEFAULT_URL, MODEL_DIR, MODEL_PATH, start_server, train_model
from nlu.trainingdata import REPO, TRAIN_DIR, write_folded

CONFIG = REPO / "config.yml"
BUILD_DIR = REPO / "build" / "nlu-train"
STAMP = MODEL_DIR / "nlu.stamp"


def training_hash() -> str:
    h = hashlib.sha256()
    inputs = [CONFIG, *sorted(TRAIN_DIR.rglob("*.yml"))]
    inputs += [REPO / "nlu" / "normalize.py", REPO / "nlu" / "trainingdata.py"]
    for f in inputs:
        h.update(str(f.relative_to(REPO)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def cmd_train(args: argparse.Namespace) -> int:
    digest = training_hash()
    fresh = MODEL_PATH.exists() and STAMP.exists() and STAMP.read_text().strip() == digest
    if fresh and not args.force:
        print("NLU model is up to date (config.yml and data/nlu unchanged)")  # noqa: T201
        return 0
    n = write_folded(TRAIN_DIR, BUILD_DIR)
    print(f"training on {n} examples from {TRAIN_DIR}", file=sys.stderr)  # noqa: T201
    started = time.monotonic()
    train_model(CONFIG, BUILD_DIR)
    seconds = time.monotonic() - started
    load_or_train(TRAIN_DIR, MODEL_DIR)
    STAMP.write_text(digest + "\n")
    (MODEL_DIR / "nlu.train.json").write_text(
        json.dumps(
            {
                "examples": n,
                "seconds": round(seconds, 1),
                "model_bytes": MODEL_PATH.stat().st_size,
            }
        )
    )
    print(  # noqa: T201
        f"trained in {seconds:.0f} s: {MODEL_PATH} ({MODEL_PATH.stat().st_size / 1e6:.1f} MB)"
    )
    return 0


async def _with_nlu(args: argparse.Namespace) -> NLU:
    url = os.environ.get("NLU_URL", DEFAULT_URL)
    token = os.environ.get("NLU_TOKEN")
    return await NLU.create(url, token, start=not args.no_start)


async def cmd_parse(args: argparse.Namespace) -> int:
    nlu = await _with_nlu(args)
    try:
        result = await nlu.parse(args.text)
        out = {
            "intent": result.intent,
            "confidence": round(result.confidence, 4),
            "ranking": result.ranking[:10],
            "entities": [{"entity": e["entity"], "value": e["value"]} for e in result.entities],
            "language": result.language,
            "degraded": result.degraded,
            "normalized": result.normalized,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))  # noqa: T201
    finally:
        await nlu.close()
    return 0


async def cmd_evaluate(args: argparse.Namespace) -> int:
    nlu = await _with_nlu(args)
    try:
        report = await evaluate(nlu, [Path(f) for f in args.files])
    finally:
        await nlu.close()
    print(format_report(report))  # noqa: T201
    if args.json:
        Path(args.json).write_text(
            json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    failures = []
    for lang, scores in report.by_language.items():
        if args.min_accuracy and scores.accuracy < args.min_accuracy:
            failures.append(f"{lang} accuracy {scores.accuracy:.3f} < {args.min_accuracy}")
    if args.min_translit and report.translit.n and report.translit.accuracy < args.min_translit:
        failures.append(
            f"kk latin+letterless accuracy {report.translit.accuracy:.3f} < {args.min_translit}"
        )
    if (
        args.min_language
        and report.language_detection.n
        and report.language_detection.accuracy < args.min_language
    ):
        failures.append(
            f"language detection {report.language_detection.accuracy:.3f} < {args.min_language}"
        )
    if report.degraded and args.min_accuracy:
        failures.append(f"{report.degraded} parses were degraded: Rasa did not answer")
    for f in failures:
        print("BELOW THE BAR:", f, file=sys.stderr)  # noqa: T201
    return 1 if failures else 0


async def cmd_serve(args: argparse.Namespace) -> int:
    """One Rasa server for a deployment (deploy/systemd/kz-rasa@.service):
    runs until Rasa exits (its code is ours, so systemd starts it again) or
    SIGTERM stops it. NLU_TOKEN is required: every worker sends it."""
    token = os.environ.get("NLU_TOKEN", "").strip()
    if not token:
        sys.stderr.write("NLU_TOKEN is not set: the bot workers must know the server's token\n")
        return 2
    log_path = Path(args.log) if args.log else None
    server = await start_server(
        f"http://127.0.0.1:{args.port}",
        token=token,
        timeout=args.start_timeout,
        log_path=log_path,
        interface=args.interface,
    )
    sys.stderr.write(f"Rasa server ready on {args.interface}:{args.port}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and not server.exited:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    if server.exited:
        code = server.process.returncode
        sys.stderr.write(f"Rasa server exited with {code}\n")
        return code or 1
    await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m nlu")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="retrain the Rasa model if config or data changed")
    t.add_argument("--force", action="store_true")

    pp = sub.add_parser("parse", help="parse one message, print JSON")
    pp.add_argument("text")
    pp.add_argument("--no-start", action="store_true", help="do not start a Rasa server")

    e = sub.add_parser("evaluate", help="evaluate the pipeline on Rasa-format NLU files")
    e.add_argument("files", nargs="+")
    e.add_argument("--json", metavar="OUT")
    e.add_argument("--no-start", action="store_true")
    e.add_argument("--min-accuracy", type=float, default=0.0)
    e.add_argument("--min-translit", type=float, default=0.0)
    e.add_argument("--min-language", type=float, default=0.0)

    sv = sub.add_parser("serve", help="run one Rasa server (a deployment's; NLU_TOKEN set)")
    sv.add_argument("--port", type=int, default=5005)
    sv.add_argument("--interface", default="127.0.0.1", help="address to listen on")
    sv.add_argument("--log", help="Rasa's log file (default var/rasa-PORT.log)")
    sv.add_argument("--start-timeout", type=float, default=600.0)

    args = p.parse_args(argv)
    if args.cmd == "serve":
        return asyncio.run(cmd_serve(args))
    if args.cmd == "train":
        return cmd_train(args)
    if args.cmd == "parse":
        return asyncio.run(cmd_parse(args))
    return asyncio.run(cmd_evaluate(args))


if __name__ == "__main__":
    sys.exit(main())
