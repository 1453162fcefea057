"""`make bench`: every benchmark of the project, one JSON object per part.

    python -m bench                 all parts
    python -m bench soak booking    some parts (`soak` = `bench.soak`)

A part whose result says `"ok": false` (errors, duplicate replies,
overbooked windows) makes the exit status 1, after the other parts ran.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys

PARTS = ["bench.nlu", "bench.telegram", "bench.burst", "bench.booking", "bench.soak"]


def main() -> int:
    selected = [n if n.startswith("bench.") else f"bench.{n}" for n in sys.argv[1:]] or PARTS
    failed: list[str] = []
    for name in selected:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part is not built yet
            raise
        result = asyncio.run(module.run())
        print(json.dumps({"bench": name, **result}, ensure_ascii=False))  # noqa: T201
        sys.stdout.flush()
        if result.get("ok") is False:
            failed.append(name)
    if failed:
        sys.stderr.write(f"bench: FAILED: {', '.join(failed)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
