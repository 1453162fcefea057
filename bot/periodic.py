"""Background work that must outlive any fault: the periodic jobs (booking
reminders, idle hand-offs, retention), the outbox sender and the poller.

Two layers:
* a pass that fails (the database restarting, Redis gone, a bug) is
  logged without personal data (`describe`: exception classes and code
  locations, never messages or SQL parameters) and the next pass comes
  after an exponential backoff (`Backoff`), capped, reset by a good pass;
* the loop itself is supervised (`Supervisor`): a task that dies anyway
  (an exception outside a pass) is logged, counted (`restarts`) and started
  again after the same kind of backoff. `PeriodicJob.start()` supervises
  its own loop; bot/telegram.py supervises the sender and the poller.

`stop()` waits for the pass in hand to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry
BACKOFF_CAP = 60.0  # the longest wait between two tries


class Backoff:
    """Exponential backoff with jitter: `base`, 2·base, 4·base … at most `cap`."""

    def __init__(self, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        delay = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return delay * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        self.failures = 0


def describe(exc: BaseException) -> str:
    """An exception for the log, without personal data: the classes of the
    exception and of its causes, and where it was raised in our code.
    Messages are left out (SQL parameters, a citizen's text, a phone)."""
    names: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(names) < 4:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        names.append(f"{type(cur).__module__}.{type(cur).__qualname__}".removeprefix("builtins."))
        orig = getattr(cur, "orig", None)  # SQLAlchemy wraps the driver's exception
        if isinstance(orig, BaseException):
            todo.append(orig)
        todo.append(cur.__cause__ or cur.__context__)
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    where = ", ".join(
        f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}"
        for f in ours[-3:]
    )
    return " <- ".join(names) + (f" at {where}" if where else "")


class Supervisor:
    """Runs coroutines that should run until stopped, and starts again (after a
    backoff) any that ends with an exception: each such death is logged and
    counted in `restarts[name]`. A coroutine that returns normally is done."""

    def __init__(self, base: float = BACKOFF_BASE, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.restarts: dict[str, int] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    def start(self, name: str, run: Callable[[], Awaitable[Any]]) -> asyncio.Task[None]:
        """`run()` in a task of its own, started again whenever it dies."""
        self.restarts.setdefault(name, 0)
        task = asyncio.create_task(self.keep(name, run), name=name)
        self.tasks[name] = task
        return task

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def keep(
        self,
        name: str,
        run: Callable[[], Awaitable[Any]],
        *,
        stopping: asyncio.Event | None = None,
    ) -> None:
        """`run()` here, started again whenever it dies, until it returns or
        the supervisor (or `stopping`, when given) is stopped."""
        self.restarts.setdefault(name, 0)
        backoff = Backoff(self.base, self.cap)
        loop = asyncio.get_running_loop()

        def stopped() -> bool:
            return self._stopping.is_set() or (stopping is not None and stopping.is_set())

        while True:
            started = loop.time()
            try:
                await run()
                return
            except asyncio.CancelledError:
                if stopped():
                    raise
                # Cancelled from inside (not by us): a death like any other.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                error = "cancelled"
            except Exception as exc:
                error = describe(exc)
            if stopped():
                return
            if loop.time() - started > 10 * self.cap:
                backoff.reset()  # it had been running fine for a long while
            self.restarts[name] = self.restarts.get(name, 0) + 1
            delay = backoff.next()
            log.error(
                "background task %s died (%s); restart #%d in %.1f s",
                name,
                error,
                self.restarts[name],
                delay,
            )
            waits = [asyncio.ensure_future(self._stopping.wait())]
            if stopping is not None:
                waits.append(asyncio.ensure_future(stopping.wait()))
            try:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            if stopped():
                return

    async def stop(self, timeout: float = 30.0) -> None:
        """Let the tasks finish (their own stop was asked for by the caller);
        cancel those still running after `timeout`."""
        self._stopping.set()
        tasks = [t for t in self.tasks.values() if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for name, task in self.tasks.items():
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("background task %s failed at stop: %s", name, describe(task.exception()))  # type: ignore[arg-type]


class PeriodicJob:
    name = "periodic job"
    # After a failed pass the next one comes after a backoff from
    # `retry_base`, doubling, at most `retry_cap` (nor more than `interval`).
    retry_base = 1.0
    retry_cap = 60.0

    def __init__(self, interval: float, first_delay: float = 0.0) -> None:
        self.interval = interval
        self.first_delay = first_delay
        self.passes = 0
        self.failures = 0  # passes that failed, in all
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._supervisor: Supervisor | None = None
        self._backoff = Backoff(self.retry_base, min(self.retry_cap, max(interval, 0.01)))

    @property
    def restarts(self) -> int:
        """How many times the job's loop died and was started again."""
        return 0 if self._supervisor is None else self._supervisor.restarts.get(self.name, 0)

    async def run_once(self) -> Any:
        raise NotImplementedError

    def more_due(self) -> bool:
        """True when the last pass left work due now: the next one starts at once."""
        return False

    def start(self) -> asyncio.Task[None]:
        self._stopped.clear()
        self._supervisor = Supervisor(
            self.retry_base, min(self.retry_cap, max(self.interval, 0.01))
        )
        self._task = self._supervisor.start(self.name, self.run)
        return self._task

    async def stop(self) -> None:
        self._stopped.set()
        if self._supervisor is not None:
            await self._supervisor.stop()
        self._task = None

    async def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True when stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        return self._stopped.is_set()

    async def run(self) -> None:
        fresh = self.passes == 0 and self.failures == 0
        if self.first_delay and fresh and await self._sleep(self.first_delay):
            return
        while not self._stopped.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the database or Redis away, or a bug: retried
                self.failures += 1
                delay = self._backoff.next()
                log.error(
                    "%s: pass failed (%s); next try in %.1f s", self.name, describe(exc), delay
                )
                if await self._sleep(delay):
                    return
                continue
            self.passes += 1
            if self._backoff.failures:
                log.info(
                    "%s: works again after %d failed passes", self.name, self._backoff.failures
                )
                self._backoff.reset()
            if self.more_due():
                await asyncio.sleep(0)
                continue
            if await self._sleep(self.interval):
                return
