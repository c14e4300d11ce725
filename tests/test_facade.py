"""The Glance-compatible module facade (``glancedb.api``) and Database options."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from glancedb import Database, RequestContext, api, engines, exception


@pytest.fixture
def fresh_facade(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The facade with no default database yet; whatever a test sets is disposed."""
    monkeypatch.setattr(api, "_default", None)
    yield
    if api._default is not None:
        api._default.dispose()


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


def test_in_memory_sqlite_keeps_its_data_across_calls(ctx: RequestContext) -> None:
    memory = Database("sqlite://")
    memory.db_sync()
    image = memory.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    assert memory.image_get(ctx, image["id"])["id"] == image["id"]
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
