"""No input reaches the caller as a raw error (SPEC 1.5, 12): a property-based fuzz test.

Every public method of :class:`glancedb.Database` that reads or writes data
is called with generated arguments - mostly valid ones with one hostile
value (nested lists and dicts, integers beyond 64 bits, NaN and infinities,
NUL, lone surrogates, 4-byte characters, very long strings, bytes, odd
objects, a wrong type for any parameter) - against a real database of each
backend holding a small realistic state (tests/support/fuzz.py).  For every
call:

* only :class:`glancedb.exception.GlanceDBError` subclasses may be raised;
  any other exception (``TypeError``, ``OverflowError``, a driver error...)
  fails the test;
* an error must come from glancedb's own checks, not from the database
  rejecting the input (a driver error translated on one backend would be a
  different answer on another) - a duplicate key excepted, which only the
  database can see;
* a call that raised wrote nothing: a fingerprint of every row of the
  tables it can touch is the same before and after;
* every backend gives the same answer (the error class, or success) as the
  first backend that ran the same examples.

The runs are reproducible (``derandomize``) and bounded per method, so that
the module stays a normal part of the test run on all three backends.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Table
from sqlalchemy import exc as sa_exc

from glancedb import Database
from glancedb.exception import Duplicate, GlanceDBError
from tests.support.fuzz import (
    EXEMPT,
    Fingerprint,
    Fingerprinter,
    call_arguments,
    call_parameters,
    group_tables,
    seed,
    touched_groups,
)

PARAMETERS = call_parameters()

#: Generated calls per method and backend: more for the methods taking a
#: dict of values or filters (one bad part in many), fewer for plain lookups.
#: ``GLANCEDB_FUZZ_SCALE`` multiplies them for a deeper run by hand.
RICH_EXAMPLES, PLAIN_EXAMPLES = 80, 20
SCALE = float(os.environ.get("GLANCEDB_FUZZ_SCALE", "1"))
_DICT_PARAMETERS = {"values", "filters", "location", "tag_list", "namespace_dict"}


def examples_for(name: str) -> int:
    """How many calls of ``name`` each backend runs."""
    parameters = set(PARAMETERS[name])
    rich = parameters & _DICT_PARAMETERS or any(p.endswith("_dict") for p in parameters)
    examples = RICH_EXAMPLES if rich or len(parameters) >= 5 else PLAIN_EXAMPLES
    return max(1, round(examples * SCALE))


#: Runs are derandomized (the same examples on every run and every backend,
#: which the cross-backend comparison relies on); ``GLANCEDB_FUZZ_SEED``
#: picks another fixed sequence.
_SEED = os.environ.get("GLANCEDB_FUZZ_SEED")

FUZZ_SETTINGS = settings(
    max_examples=PLAIN_EXAMPLES,
    derandomize=_SEED is None,
    database=None,
    deadline=None,
    # The strategies build deep, mostly-valid argument sets on purpose; the
    # data they draw is large compared with Hypothesis's defaults.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def public_methods() -> set[str]:
    """Every public method of Database (properties excluded)."""
    return {
        name
        for name, member in inspect.getmembers(Database)
        if not name.startswith("_") and inspect.isfunction(member)
    }


def test_every_public_method_is_fuzzed_or_exempt() -> None:
    methods = public_methods()
    missing = sorted(methods - set(PARAMETERS) - set(EXEMPT))
    assert not missing, f"add these methods to tests/support/fuzz.py (or EXEMPT): {missing}"
    unknown = sorted((set(PARAMETERS) | set(EXEMPT)) - methods)
    assert not unknown, f"not public methods of Database: {unknown}"
    assert not set(PARAMETERS) & set(EXEMPT)
    for name, reason in EXEMPT.items():
        assert reason, f"{name} is exempt without a reason"


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_every_parameter_is_fuzzed(name: str) -> None:
    parameters = set(inspect.signature(getattr(Database, name)).parameters) - {"self"}
    assert set(PARAMETERS[name]) == parameters


@dataclass
class FuzzState:
    """The seeded database of one backend, and what the calls did to it."""

    db: Database
    fingerprint: Fingerprinter
    calls: dict[str, int] = field(default_factory=dict)
    raised: dict[str, int] = field(default_factory=dict)
    #: Answers checked against the first backend's answers to the same calls.
    compared: int = 0
    #: The method under test, its tables and their fingerprint before each call.
    groups: tuple[str, ...] = ()
    tables: list[Table] = field(default_factory=list)
    expected: Fingerprint = ((), "")

    def start(self, method: str) -> None:
        """Seed the tables ``method`` touches, unless they already hold the seed."""
        self.groups = touched_groups(method)
        self.tables = group_tables(self.groups)
        seeded = _seeded_fingerprint(self.db.backend, self.groups)
        self.expected = self.fingerprint(self.tables)
        if self.expected != seeded:
            self.reseed()

    def reseed(self) -> None:
        seed(self.db, self.groups)
        self.expected = self.fingerprint(self.tables)

    def current(self) -> Fingerprint:
        return self.fingerprint(self.tables)


_SEEDED: dict[tuple[str, tuple[str, ...]], Fingerprint] = {}


def _seeded_fingerprint(backend: str, groups: tuple[str, ...]) -> Fingerprint:
    """The fingerprint of ``groups`` just after seeding (filled in by the fixture)."""
    return _SEEDED[(backend, groups)]


@pytest.fixture(scope="module")
def fuzz_state(session_db: Database, request: pytest.FixtureRequest) -> Iterator[FuzzState]:
    state = FuzzState(session_db, Fingerprinter(session_db))
    seed(session_db)
    for groups in {touched_groups(name) for name in PARAMETERS}:
        _SEEDED[(session_db.backend, groups)] = state.fingerprint(group_tables(groups))
    yield state
    state.fingerprint.close()
    _report(request.config, state)


def _report(config: pytest.Config, state: FuzzState) -> None:
    """One line per backend: the calls made, by family, and how many raised."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not state.calls:
        return
    families: dict[str, int] = {}
    for name, count in state.calls.items():
        family = "purge" if name.startswith("purge") else touched_groups(name)[0]
        families[family] = families.get(family, 0) + count
    total, raised = sum(state.calls.values()), sum(state.raised.values())
    by_family = ", ".join(f"{family} {count}" for family, count in sorted(families.items()))
    with capture.global_and_fixture_disabled():
        reporter.write_line(
            f"\nfuzz ({state.db.backend}): {total} calls of {len(state.calls)} methods "
            f"({by_family}); {raised} raised a glancedb error, {total - raised} succeeded; "
            f"{state.compared} answers compared with another backend's"
        )


def _database_cause(error: BaseException) -> BaseException | None:
    """The driver error ``error`` was translated from, if any."""
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, sa_exc.SQLAlchemyError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def check_call(state: FuzzState, name: str, kwargs: dict[str, Any]) -> str:
    """Call ``name`` with ``kwargs``; fail on a raw error or a write by a failed call.

    Returns the outcome: the name of the glancedb error raised, or ``ok``.
    """
    method = getattr(state.db, name)
    state.calls[name] = state.calls.get(name, 0) + 1
    try:
        method(**kwargs)
    except GlanceDBError as error:
        state.raised[name] = state.raised.get(name, 0) + 1
        cause = _database_cause(error)
        assert cause is None or isinstance(error, Duplicate), (
            f"{name} let the database judge the input ({type(error).__name__}: {error}); "
            f"another backend would answer differently"
        )
        if state.current() != state.expected:
            state.reseed()  # so that the examples tried next start from the seed
            raise AssertionError(
                f"{name} raised {type(error).__name__} but wrote: {error}"
            ) from error
        return type(error).__name__
    except Exception as error:
        if state.current() != state.expected:
            state.reseed()
        raise AssertionError(f"{name} leaked {type(error).__name__}: {error!r}") from error
    # A call that succeeded may have changed the seed: restore it, so that
    # the next calls find the records they name.
    if state.current() != state.expected:
        state.reseed()
    return "ok"


#: Per method, the backend that ran it first and its answer to each example.
_OUTCOMES: dict[str, tuple[str, dict[str, str]]] = {}


def check_same_answers(name: str, backend: str, outcomes: list[tuple[str, str]]) -> int:
    """Each example got the same answer as on the first backend that ran it.

    The runs are derandomized, so every backend draws the same examples -
    unless Hypothesis's pool of constants (taken from the modules imported so
    far) grew in between; examples are therefore matched by their text.
    Returns how many answers were compared.
    """
    answers = dict(outcomes)
    first_backend, first = _OUTCOMES.setdefault(name, (backend, answers))
    if first_backend == backend:
        return 0
    compared = 0
    for call, answer in answers.items():
        expected = first.get(call)
        if expected is None:
            continue
        compared += 1
        assert answer == expected, (
            f"{name} answered {answer} on {backend} but {expected} on {first_backend}: {call[:500]}"
        )
    return compared


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_only_glancedb_errors_and_no_write_on_error(fuzz_state: FuzzState, name: str) -> None:
    fuzz_state.start(name)
    outcomes: list[tuple[str, str]] = []

    @settings(FUZZ_SETTINGS, max_examples=examples_for(name))
    @given(kwargs=call_arguments(PARAMETERS[name]))
    def run(kwargs: dict[str, Any]) -> None:
        shown = repr(kwargs)  # before the call: it may change mutable arguments
        outcomes.append((shown, check_call(fuzz_state, name, kwargs)))

    if _SEED is not None:
        run = hypothesis.seed(int(_SEED))(run)
    run()
    fuzz_state.compared += check_same_answers(name, fuzz_state.db.backend, outcomes)
