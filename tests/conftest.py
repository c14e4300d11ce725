"""Fixtures shared by every test module: a database per backend, contexts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from glancedb import Database, RequestContext
from tests.backends import BACKENDS, check_reachable, clear_tables, in_ci, make_database
from tests.glance_fixtures import PristineDatabases


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run the test only on these backends (others are deselected,"
        " not skipped: a skip in CI means a backend that did not run)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        if marker is not None and backend is not None and backend not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="glancedb-tests-") as path:
        yield path


def require_backend(backend: str) -> None:
    """Skip (locally) or fail (in CI) when ``backend``'s server is down."""
    reason = check_reachable(backend)
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI requires every backend: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name a test runs on (every test runs on all three)."""
    name: str = request.param
    require_backend(name)
    return name


@pytest.fixture(scope="session")
def session_db(backend: str, tmp_root: str) -> Iterator[Database]:
    database = make_database(backend, tmp_root)
    database.db_sync()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def pristine(backend: str, tmp_root: str) -> Iterator[PristineDatabases]:
    """Empty databases of the current backend, re-created per test (schema tests)."""
    databases = PristineDatabases(backend, tmp_root)
    yield databases
    databases.close()


@pytest.fixture
def db(session_db: Database) -> Database:
    """A synced database of the current backend, emptied before the test."""
    clear_tables(session_db)
    return session_db


@pytest.fixture
def admin_ctx() -> RequestContext:
    return RequestContext(is_admin=True)


@pytest.fixture
def ctx() -> RequestContext:
    """A regular tenant context (project ``tenant-a``)."""
    return RequestContext(project_id="tenant-a", user_id="user-a")


@pytest.fixture
def other_ctx() -> RequestContext:
    """Another regular tenant (project ``tenant-b``)."""
    return RequestContext(project_id="tenant-b", user_id="user-b")
