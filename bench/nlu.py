"""NLU figures: training time and model size (from the last `make train`),
Rasa server RSS, and parse latency through the client over 1,000 requests."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import statistics
import time
from pathlib import Path
from typing import Any

from nlu.embed import IntentNeighbours
from nlu.light import load_or_train
from nlu.pipeline import NLU
from nlu.rasa import MODEL_DIR, MODEL_PATH, RasaClient, start_server
from nlu.trainingdata import TEST_DIR, TRAIN_DIR, read


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(requests: int = 1000) -> dict[str, Any]:
    info = json.loads((MODEL_DIR / "nlu.train.json").read_text())
    started = time.monotonic()
    server = await start_server(f"http://127.0.0.1:{_free_port()}", token="bench")
    startup = time.monotonic() - started
    texts = [e.text for e in read([TEST_DIR]).examples]
    random.Random(0).shuffle(texts)
    nlu = NLU(
        RasaClient(server.url, server.token),
        load_or_train(cache_dir=MODEL_DIR),
        neighbours=IntentNeighbours.from_training(TRAIN_DIR),
    )
    try:
        for t in texts[:20]:
            await nlu.parse(t)
        latencies: list[float] = []
        for i in range(requests):
            t0 = time.perf_counter()
            r = await nlu.parse(texts[i % len(texts)])
            latencies.append((time.perf_counter() - t0) * 1000)
            assert not r.degraded
        rss = rss_mb(server.process.pid)
    finally:
        await nlu.close()
        await server.stop()
    return {
        "training_examples": info["examples"],
        "training_seconds": info["seconds"],
        "model_mb": round(MODEL_PATH.stat().st_size / 1e6, 1),
        "server_start_seconds": round(startup, 1),
        "server_rss_mb": round(rss, 0),
        "parse_requests": requests,
        "parse_p50_ms": round(statistics.median(latencies), 2),
        "parse_p99_ms": round(percentile(latencies, 99), 2),
        "parse_mean_ms": round(statistics.fmean(latencies), 2),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()), indent=2))  # noqa: T201
