"""Run one call from many threads at once and collect the outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from glancedb import exception


def race(threads: int, call: Callable[[int], object]) -> list[str]:
    """Start ``call(n)`` in ``threads`` threads together.

    Each outcome is ``"won"``, ``"duplicate"`` (:class:`Duplicate` raised)
    or the description of any other exception, so that an assertion on the
    sorted list shows what went wrong.
    """
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            call(n)
            outcome = "won"
        except exception.Duplicate:
            outcome = "duplicate"
        except Exception as exc:  # reported, so that the assertion shows it
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=attempt, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes
