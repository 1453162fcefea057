"""`make bench`: every benchmark of the project, one JSON object per part."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys

PARTS = ["bench.nlu", "bench.telegram", "bench.booking", "bench.soak"]


def main() -> int:
    selected = sys.argv[1:] or PARTS
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
