"""The Glance-compatible module facade (``glancedb.api``) and Database options."""

from __future__ import annotations

import concurrent.futures
import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from glancedb import Database, RequestContext, api, engines, exception, transactions, validation


@pytest.fixture
def fresh_facade(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The facade with no default database yet; whatever a test sets is disposed."""
    monkeypatch.setattr(api, "_current", None)
    yield
    api.clear_db_env()


def test_configure_points_every_function_at_the_database(
    db: Database, ctx: RequestContext, fresh_facade: None
) -> None:
    api.configure(db.url.render_as_string(hide_password=False))
    image = api.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "via-api"})
    assert db.image_get(ctx, image["id"])["name"] == "via-api"
    assert api.get_engine().url == db.url
    assert [i["id"] for i in api.image_get_all(ctx)] == [image["id"]]


def test_configure_again_switches_and_disposes(
    tmp_path: Path, ctx: RequestContext, fresh_facade: None
) -> None:
    first = api.configure(f"sqlite:///{tmp_path / 'one.sqlite'}")
    api.db_sync()
    api.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    second = api.configure(f"sqlite:///{tmp_path / 'two.sqlite'}")
    assert api.get_database() is second and second is not first
    assert first.engine.pool.checkedout() == 0
    api.db_sync()
    assert api.image_get_all(ctx) == []


def test_lazy_default_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    url = f"sqlite:///{tmp_path / 'env.sqlite'}"
    monkeypatch.setenv(engines.DEFAULT_URL_ENV, url)
    assert str(api.get_engine().url) == url


def test_lazy_default_is_the_embedded_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    monkeypatch.delenv(engines.DEFAULT_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    api.db_sync()
    assert (tmp_path / "glancedb.sqlite").exists()
    assert api.get_engine().url.database == "glancedb.sqlite"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_keeps_its_data_across_calls(ctx: RequestContext, url: str) -> None:
    """Either spelling is one database for every call, from any thread."""
    memory = Database(url)
    memory.db_sync()
    image = memory.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    assert memory.image_get(ctx, image["id"])["id"] == image["id"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        found = pool.submit(memory.image_get, ctx, image["id"]).result()
    assert found["id"] == image["id"]
    memory.dispose()


def test_read_url_serves_read_only_calls(tmp_path: Path, ctx: RequestContext) -> None:
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite'}"
    Database(replica_url).db_sync()
    primary = Database(f"sqlite:///{tmp_path / 'primary.sqlite'}", read_url=replica_url)
    primary.db_sync()
    image = primary.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    # The write went to the primary; reads go to the (here: stale) replica.
    with pytest.raises(exception.ImageNotFound):
        primary.image_get(ctx, image["id"])
    assert primary.image_get_all(ctx) == []
    primary.dispose()


def test_facade_signatures_match_the_methods_without_self() -> None:
    for name in ("image_get", "image_get_all", "image_update", "task_get_all"):
        function = getattr(api, name)
        method = getattr(Database, name)
        expected = list(inspect.signature(method).parameters)[1:]
        assert list(inspect.signature(function).parameters) == expected
        assert function.__doc__ == method.__doc__
    assert list(inspect.signature(api.image_get).parameters) == [
        "context",
        "image_id",
        "force_show_deleted",
        "v1_mode",
    ]


def test_a_foreign_context_is_read_by_duck_typing(db: Database) -> None:
    class OsloStyleContext:
        """Only what an oslo.context RequestContext offers: no ``owner``."""

        def __init__(self, project_id: str | None, is_admin: bool = False) -> None:
            self.project_id = project_id
            self.is_admin = is_admin
            self.show_deleted = False

    tenant = OsloStyleContext("tenant-x")
    image = db.image_create(tenant, {"status": "queued", "owner": "tenant-x"})
    assert db.image_get(tenant, image["id"])["owner"] == "tenant-x"
    with pytest.raises(exception.Forbidden):
        db.image_get(OsloStyleContext("tenant-y"), image["id"])
    assert db.image_get(OsloStyleContext(None, is_admin=True), image["id"])["id"] == image["id"]


# --- configure(): repeated, switched, cleared (SPEC 13, 15) ------------------------------


class EngineCount:
    """Counts the engines glancedb creates; ``slow`` widens the window of a race."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, slow: bool = False) -> None:
        self.count = 0
        original = transactions.create_glancedb_engine

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            if slow:
                time.sleep(0.05)  # other threads run meanwhile (the GIL is released)
            return original(*args, **kwargs)

        monkeypatch.setattr(transactions, "create_glancedb_engine", counting)


def test_configure_with_the_same_settings_keeps_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    engines = EngineCount(monkeypatch)
    url = f"sqlite:///{tmp_path / 'same.sqlite'}"
    first = api.configure(url)
    assert engines.count == 1
    assert api.configure(url) is first
    assert api.configure(make_url(url)) is first
    assert api.get_database() is first and api.get_engine() is first.engine
    assert engines.count == 1
    # Spellings of one URL that glancedb normalises alike are the same settings.
    mysql = api.configure("mysql://glance@127.0.0.1/glance")
    assert api.configure("mysql+pymysql://glance@127.0.0.1/glance?charset=utf8mb4") is mysql
    assert engines.count == 2


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"url": "other.sqlite"}, id="url"),
        pytest.param({"read_url": "replica.sqlite"}, id="read_url"),
        pytest.param({"echo": True}, id="engine-option"),
    ],
)
def test_configure_with_other_settings_switches_and_disposes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None, change: dict[str, Any]
) -> None:
    disposed: list[Database] = []
    monkeypatch.setattr(Database, "dispose", lambda self: disposed.append(self))
    url = f"sqlite:///{tmp_path / 'first.sqlite'}"
    first = api.configure(url)
    options = {k: f"sqlite:///{tmp_path / v}" if k != "echo" else v for k, v in change.items()}
    second = api.configure(options.pop("url", url), **options)
    assert second is not first and api.get_database() is second
    assert disposed == [first]
    assert api.configure(url) is not second  # and back again
    assert disposed == [first, second]


def test_configure_without_arguments_is_one_database_for_every_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    monkeypatch.setenv(engines.DEFAULT_URL_ENV, f"sqlite:///{tmp_path / 'threads.sqlite'}")
    counter = EngineCount(monkeypatch, slow=True)
    barrier = threading.Barrier(8)
    seen: list[Database] = []

    def request() -> None:
        barrier.wait()
        seen.extend(api.configure() for _ in range(200))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1600 and len({id(database) for database in seen}) == 1
    assert counter.count == 1


def test_lazy_default_and_configure_race_keep_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    """A first call of a facade function never replaces a database configured meanwhile."""
    monkeypatch.setenv(engines.DEFAULT_URL_ENV, f"sqlite:///{tmp_path / 'lazy.sqlite'}")
    configured = api.configure(f"sqlite:///{tmp_path / 'explicit.sqlite'}")
    assert api.get_database() is configured
    assert api._configure(None, {}, replace=False) is configured


def test_clear_db_env_forgets_and_disposes_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_facade: None
) -> None:
    monkeypatch.setenv(engines.DEFAULT_URL_ENV, f"sqlite:///{tmp_path / 'env.sqlite'}")
    first = api.configure()
    disposed: list[Database] = []
    monkeypatch.setattr(Database, "dispose", lambda self: disposed.append(self))
    api.clear_db_env()
    assert disposed == [first]
    second = api.get_database()
    assert second is not first and second.url == first.url
    api.clear_db_env()
    api.clear_db_env()  # nothing configured: nothing to do
    assert disposed == [first, second]


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"url": ["sqlite://"]}, id="url-list"),
        pytest.param({"url": "sqlite://", "read_url": {"a": 1}}, id="read-url-dict"),
        pytest.param({"url": "no such url"}, id="url-malformed"),
    ],
)
def test_configure_with_a_bad_url_is_a_configuration_error(
    fresh_facade: None, arguments: dict[str, Any]
) -> None:
    with pytest.raises(exception.DBConfigurationError):
        api.configure(**arguments)


def test_statuses_are_glances_image_statuses() -> None:
    assert sorted(api.STATUSES) == sorted(validation.IMAGE_STATUSES)


# --- configure() inside Glance: oslo.config's [database] (SPEC 15) -----------------------
#
# Each scenario runs in its own interpreter: oslo.config's CONF and the
# facade's default database are process-wide.

OSLO_PRELUDE = """
import json, sys
from oslo_config import cfg

CONF = cfg.CONF


def register_database_options():
    # The two options of oslo.db's [database] group that glancedb reads.
    CONF.register_opts(
        [
            cfg.StrOpt("connection", secret=True, help="The database URL."),
            cfg.StrOpt("slave_connection", secret=True, help="A read-only replica's URL."),
        ],
        group="database",
    )


def urls(database):
    read = database.read_engine
    return [
        database.url.render_as_string(hide_password=False),
        None if read is database.engine else read.url.render_as_string(hide_password=False),
    ]


import glancedb.api as api
"""


def run_python(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    """Run ``OSLO_PRELUDE`` + ``code`` in a fresh interpreter; return what it printed (JSON)."""
    environment = {
        key: value for key, value in os.environ.items() if key != engines.DEFAULT_URL_ENV
    }
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", OSLO_PRELUDE + textwrap.dedent(code)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_configure_reads_oslo_configs_database_connection(tmp_path: Path) -> None:
    primary, replica = tmp_path / "glance.sqlite", tmp_path / "replica.sqlite"
    code = f"""
        register_database_options()
        CONF.set_override("connection", "sqlite:///{primary}", group="database")
        CONF.set_override("slave_connection", "sqlite:///{replica}", group="database")
        first = api.configure()
        again = api.configure()
        print(json.dumps([urls(first), again is first, api.get_database() is first]))
    """
    env = {engines.DEFAULT_URL_ENV: f"sqlite:///{tmp_path / 'env.sqlite'}"}
    found, same, default = run_python(code, tmp_path, env)
    assert found == [f"sqlite:///{primary}", f"sqlite:///{replica}"]
    assert same and default


def test_configure_reads_a_glance_api_conf(tmp_path: Path) -> None:
    conf = tmp_path / "glance-api.conf"
    conf.write_text(
        "[DEFAULT]\ndata_api = glancedb.api\n\n"
        f"[database]\nconnection = sqlite:///{tmp_path / 'glance.sqlite'}\n",
        encoding="utf-8",
    )
    code = f"""
        register_database_options()
        CONF(["--config-file", "{conf}"], project="glance")
        print(json.dumps(urls(api.configure())))
    """
    assert run_python(code, tmp_path) == [f"sqlite:///{tmp_path / 'glance.sqlite'}", None]


def test_a_changed_oslo_connection_switches_the_database(tmp_path: Path) -> None:
    code = f"""
        register_database_options()
        CONF.set_override("connection", "sqlite:///{tmp_path / "one.sqlite"}", group="database")
        first = api.configure()
        disposed = []
        first.dispose = lambda: disposed.append(True)
        CONF.set_override("connection", "sqlite:///{tmp_path / "two.sqlite"}", group="database")
        second = api.configure()
        print(json.dumps([urls(second)[0], second is not first, disposed]))
    """
    assert run_python(code, tmp_path) == [f"sqlite:///{tmp_path / 'two.sqlite'}", True, [True]]


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param("", id="group-not-registered"),
        pytest.param("register_database_options()", id="connection-unset"),
        pytest.param(
            'register_database_options()\nCONF.set_override("connection", "", group="database")',
            id="connection-empty",
        ),
        pytest.param(
            "register_database_options()\n"
            'CONF.set_override("connection", "$no_such_option", group="database")',
            id="connection-unreadable",
        ),
        pytest.param(
            'CONF.register_opts([cfg.StrOpt("other")], group="database")',
            id="option-not-registered",
        ),
    ],
)
def test_configure_falls_back_to_the_environment(tmp_path: Path, setup: str) -> None:
    code = f"""
        {setup.replace(chr(10), chr(10) + " " * 8)}
        print(json.dumps(urls(api.configure())))
    """
    env_url = f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert run_python(code, tmp_path, {engines.DEFAULT_URL_ENV: env_url}) == [env_url, None]


def test_configure_falls_back_to_the_embedded_file(tmp_path: Path) -> None:
    code = """
        register_database_options()
        print(json.dumps(urls(api.configure())))
    """
    assert run_python(code, tmp_path) == ["sqlite:///glancedb.sqlite", None]


def test_explicit_arguments_beat_oslo_config(tmp_path: Path) -> None:
    code = f"""
        register_database_options()
        CONF.set_override("connection", "sqlite:///{tmp_path / "oslo.sqlite"}", group="database")
        CONF.set_override(
            "slave_connection", "sqlite:///{tmp_path / "oslo-replica.sqlite"}", group="database"
        )
        explicit = urls(api.configure("sqlite:///{tmp_path / "explicit.sqlite"}"))
        read = urls(api.configure(read_url="sqlite:///{tmp_path / "replica.sqlite"}"))
        print(json.dumps([explicit, read]))
    """
    explicit, read = run_python(code, tmp_path)
    assert explicit == [f"sqlite:///{tmp_path / 'explicit.sqlite'}", None]
    assert read == [
        f"sqlite:///{tmp_path / 'oslo.sqlite'}",
        f"sqlite:///{tmp_path / 'replica.sqlite'}",
    ]


def test_glancedb_never_imports_oslo_config(tmp_path: Path) -> None:
    code = """
        import json, sys
        import glancedb, glancedb.api as api
        from glancedb.cli import main
        api.configure()
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("oslo"))))
    """
    env = {engines.DEFAULT_URL_ENV: f"sqlite:///{tmp_path / 'env.sqlite'}"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
