"""Fault injection against real servers, and the books that check its damage.

:class:`Killer` kills an engine's server connections from a second
connection (``pg_terminate_backend`` / ``KILL CONNECTION``), timed to hit
around COMMIT or during a statement.  :class:`Ledger` records what each
call's caller was told; :func:`audit` compares it with what the database
holds.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text

from glancedb import Database, exception
from glancedb.models import tables as t

#: What a caller may be told under faults (SPEC 13), besides success.
DOCUMENTED = (exception.DBConnectionError, exception.DBDeadlock)


def server_id(connection: Any) -> int:
    """The server-side id of a SQLAlchemy connection's session (no round trip)."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        return int(driver.info.backend_pid)
    return int(driver.thread_id())


class Killer:
    """Kills server sessions of ``engine`` around COMMIT and during statements.

    With probability ``at_commit`` a COMMIT is followed, 0-3 ms later, by a
    kill of its session from another connection (so it lands before, during
    or after the server's commit); with ``mid_statement`` the same around a
    statement.
    """

    def __init__(
        self, engine: Engine, *, at_commit: float, mid_statement: float, seed: int = 0
    ) -> None:
        self.engine = engine
        self.at_commit = at_commit
        self.mid_statement = mid_statement
        self.kills: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[int, float, str] | None] = queue.Queue()
        self._admin = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.active = True

    def __enter__(self) -> Killer:
        self._thread.start()
        event.listen(self.engine, "commit", self._on_commit)
        event.listen(self.engine, "before_cursor_execute", self._on_statement)
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        event.remove(self.engine, "commit", self._on_commit)
        event.remove(self.engine, "before_cursor_execute", self._on_statement)
        self._queue.put(None)
        self._thread.join(30)
        self._admin.dispose()

    def _draw(self, probability: float) -> float | None:
        with self._lock:
            if self._random.random() >= probability:
                return None
            return self._random.random() * 0.003

    def _on_commit(self, connection: Any) -> None:
        delay = self._draw(self.at_commit) if self.active else None
        if delay is not None:
            self._queue.put((server_id(connection), delay, "at commit"))

    def _on_statement(self, connection: Any, *_args: Any) -> None:
        delay = self._draw(self.mid_statement) if self.active else None
        if delay is not None:
            self._queue.put((server_id(connection), delay, "mid statement"))

    def _run(self) -> None:
        with self._admin.connect() as admin:
            while (item := self._queue.get()) is not None:
                session, delay, when = item
                time.sleep(delay)
                try:
                    if admin.dialect.name == "postgresql":
                        admin.execute(text("SELECT pg_terminate_backend(:s)"), {"s": session})
                    else:
                        admin.execute(text(f"KILL CONNECTION {int(session)}"))
                    self.kills[when] += 1
                except Exception:  # the session had ended already
                    self.kills[f"{when} (gone)"] += 1


@dataclass
class Ledger:
    """What callers were told, per image name (one create call each)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    undocumented: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, name: str, function: Any) -> Any:
        """Run ``function()`` (a write creating the image ``name``) and book its outcome."""
        try:
            result = function()
        except exception.DBCommitUnknown:
            self._book(name, "commit unknown")
            return None
        except DOCUMENTED as exc:
            self._book(name, "failed", type(exc).__name__)
            return None
        except Exception as exc:
            self._book(name, "failed", f"undocumented {type(exc).__name__}: {exc}")
            return None
        self._book(name, "ok")
        return result

    def error(self, exc: BaseException) -> None:
        """Book an error of a call outside the ledger (a read, an update)."""
        with self.lock:
            if isinstance(exc, DOCUMENTED):
                self.errors[type(exc).__name__] += 1
            else:
                self.undocumented.append(f"{type(exc).__name__}: {exc}")

    def _book(self, name: str, outcome: str, error: str | None = None) -> None:
        with self.lock:
            self.outcomes[name] = outcome
            if error is not None:
                if error.startswith("undocumented"):
                    self.undocumented.append(error)
                else:
                    self.errors[error] += 1


@dataclass
class Audit:
    calls: int
    lost: list[str]
    duplicated: list[str]
    failed_but_written: list[str]
    partial: list[str]
    commit_unknown_written: int
    commit_unknown_absent: int


def audit(db: Database, ledger: Ledger, *, prefix: str) -> Audit:
    """Compare the ledger with the images (named ``prefix*``) in ``db``'s primary.

    A call told "ok" must have written its image exactly once, whole (its
    one property); a call that failed must have written nothing; a
    :class:`DBCommitUnknown` may have either (counted).
    """
    images, props = t.images, t.image_properties
    # The faults killed pooled connections, and glancedb does not ping a
    # pooled connection before using it (its calls retry instead): start
    # this raw audit on fresh ones.
    db.engine.dispose()
    with db.engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(images.c.name, func.count())
                .where(images.c.name.like(f"{prefix}%"))
                .group_by(images.c.name)
            ).all()
        )
        whole = dict(
            conn.execute(
                select(images.c.name, func.count(props.c.id))
                .join(props, props.c.image_id == images.c.id)
                .where(images.c.name.like(f"{prefix}%"), props.c.value == images.c.name)
                .group_by(images.c.name)
            ).all()
        )
    result = Audit(len(ledger.outcomes), [], [], [], [], 0, 0)
    for name, outcome in sorted(ledger.outcomes.items()):
        count = counts.get(name, 0)
        if count > 1:
            result.duplicated.append(name)
        if count and whole.get(name, 0) != 1:
            result.partial.append(name)
        if outcome == "ok" and count == 0:
            result.lost.append(name)
        elif outcome == "failed" and count:
            result.failed_but_written.append(name)
        elif outcome == "commit unknown":
            if count:
                result.commit_unknown_written += 1
            else:
                result.commit_unknown_absent += 1
    unbooked = set(counts) - set(ledger.outcomes)
    result.duplicated.extend(sorted(f"{name} (never booked)" for name in unbooked))
    return result


class CommitResolutions(logging.Handler):
    """Counts the lost COMMITs glancedb resolved (PostgreSQL), by outcome."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "during COMMIT, which had committed" in message:
            self.counts["committed"] += 1
        elif "during COMMIT, which had not committed" in message:
            self.counts["aborted"] += 1
        elif "transient database error" in message:
            self.counts["retries"] += 1

    def __enter__(self) -> CommitResolutions:
        logger = logging.getLogger("glancedb")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("glancedb")
        logger.removeHandler(self)
        logger.setLevel(self._level)
