"""Fixtures shared by every test module: a database per backend, contexts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glancedb import Database, RequestContext
from tests.support.backends import (
    BACKENDS,
    TOPOLOGIES,
    base_backend,
    check_reachable,
    clear_tables,
    forget_removed_listeners,
    in_ci,
    make_database,
    topology_urls,
    wait_for_standby,
)
from tests.support.data_files import (
    METADEFS_DIR_ENV,
    glance_catalogue,
    glance_catalogue_candidates,
)
from tests.support.glance_fixtures import PristineDatabases


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run the test only on these backends (others are deselected,"
        " not skipped: a skip in CI means a backend that did not run); a topology counts as"
        " its server kind (galera: mysql, pg-standby: postgresql) or by its own name",
    )
    config.addinivalue_line(
        "markers",
        "topologies: run the test on the topologies too (backends galera and pg-standby,"
        " started by scripts/topology/*.sh); other tests never run on them",
    )
    config.addinivalue_line(
        "markers",
        "glance_catalogue: needs Glance's own metadefs catalogue (GLANCEDB_METADEFS_DIR or"
        " ../shared/metadefs); deselected without it, required under CI=true",
    )


_NO_CATALOGUE = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    catalogue_missing = glance_catalogue() is None and not in_ci()
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        off_topology = backend in TOPOLOGIES and item.get_closest_marker("topologies") is None
        off_marker = (
            marker is not None
            and backend is not None
            and backend not in marker.args
            and base_backend(backend) not in marker.args
        )
        if off_topology or off_marker:
            dropped.append(item)
        elif catalogue_missing and item.get_closest_marker("glance_catalogue") is not None:
            dropped.append(item)
            config.stash[_NO_CATALOGUE] = _catalogue_reason()
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _catalogue_reason() -> str:
    looked = ", ".join(str(path) for path in glance_catalogue_candidates())
    return (
        f"tests needing Glance's metadefs catalogue were deselected: not found (looked in "
        f"{looked}); set {METADEFS_DIR_ENV} to run them"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    catalogue = glance_catalogue()
    return f"Glance metadefs catalogue: {catalogue or 'not found'}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reason = config.stash.get(_NO_CATALOGUE, None)
    if reason is not None:
        terminalreporter.write_line(reason, yellow=True)


@pytest.fixture(scope="session")
def glance_catalogue_dir() -> Path:
    """Glance's whole metadefs catalogue; a failure (CI) when it is not on this machine."""
    catalogue = glance_catalogue()
    if catalogue is None:
        pytest.fail(_catalogue_reason())
    return catalogue


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


@pytest.fixture(scope="session", params=BACKENDS + TOPOLOGIES)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name a test runs on (every test runs on all three; the tests
    marked ``topologies`` on ``galera`` and ``pg-standby`` too)."""
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
def db(session_db: Database, backend: str) -> Database:
    """A synced database of the current backend, emptied before the test."""
    clear_tables(session_db)
    for engine in {session_db.engine, session_db.read_engine}:
        forget_removed_listeners(engine)
    if backend == "pg-standby":
        wait_for_standby(*topology_urls(backend))
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
