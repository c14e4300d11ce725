"""Which database the command line uses: glancedb.config (SPEC 14), pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glancedb.config import (
    DatabaseSettings,
    config_dir_files,
    read_config_files,
    resolve_database_settings,
)
from glancedb.exception import DBConfigurationError

ENV = "GLANCEDB_DATABASE_URL"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def resolve(tmp_path: Path, **kwargs: object) -> DatabaseSettings:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("glance_conf", tmp_path / "absent-glance-api.conf")
    return resolve_database_settings(**kwargs)  # type: ignore[arg-type]


def test_embedded_default_when_nothing_is_given(tmp_path: Path) -> None:
    settings = resolve(tmp_path)
    assert settings == DatabaseSettings("sqlite:///glancedb.sqlite", None, "the embedded default")


def test_precedence_flag_files_environment_glance_conf(tmp_path: Path) -> None:
    conf = write(tmp_path / "a.conf", "[database]\nconnection = sqlite:///from-file\n")
    glance = write(tmp_path / "glance-api.conf", "[database]\nconnection = sqlite:///glance\n")
    env = {ENV: "sqlite:///from-env"}
    assert resolve(tmp_path, glance_conf=glance).url == "sqlite:///glance"
    assert resolve(tmp_path, glance_conf=glance, environ=env).url == "sqlite:///from-env"
    # An explicit file beats the environment (defect 2: the environment won).
    settings = resolve(tmp_path, glance_conf=glance, environ=env, config_files=[conf])
    assert (settings.url, settings.source) == ("sqlite:///from-file", str(conf))
    settings = resolve(
        tmp_path, glance_conf=glance, environ=env, config_files=[conf], db_url="sqlite:///flag"
    )
    assert (settings.url, settings.source) == ("sqlite:///flag", "--db-url")


def test_empty_url_is_an_error_never_a_fallback(tmp_path: Path) -> None:
    for empty in ("", "   "):
        with pytest.raises(DBConfigurationError, match="empty"):
            resolve(tmp_path, db_url=empty)
    # An empty (or blank) environment variable counts as unset.
    for empty in ("", "  \t"):
        assert resolve(tmp_path, environ={ENV: empty}).url == "sqlite:///glancedb.sqlite"


def test_a_blank_slave_connection_is_no_read_url(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "a.conf", "[database]\nconnection = sqlite:///main\nslave_connection =  \n"
    )
    assert resolve(tmp_path, config_files=[conf]).read_url is None


def test_urls_are_taken_without_surrounding_blanks(tmp_path: Path) -> None:
    assert resolve(tmp_path, db_url=" sqlite:///flag\n").url == "sqlite:///flag"
    assert resolve(tmp_path, environ={ENV: "  sqlite:///env "}).url == "sqlite:///env"


def test_files_merge_key_by_key_later_wins(tmp_path: Path) -> None:
    first = write(
        tmp_path / "1.conf",
        "[database]\nconnection = sqlite:///first\nslave_connection = sqlite:///replica\n",
    )
    second = write(tmp_path / "2.conf", "[DATABASE]\nconnection = sqlite:///second\n")
    settings = resolve(tmp_path, config_files=[first, second])
    assert settings.url == "sqlite:///second"
    assert settings.read_url == "sqlite:///replica"  # kept from the first file
    assert settings.source == f"{first}, {second}"
    assert resolve(tmp_path, config_files=[second, first]).url == "sqlite:///first"


def test_config_dir_files_follow_the_files_in_sorted_order(tmp_path: Path) -> None:
    directory = tmp_path / "glance-api.conf.d"
    directory.mkdir()
    write(directory / "20-b.conf", "[database]\nconnection = sqlite:///b\n")
    write(directory / "10-a.conf", "[database]\nconnection = sqlite:///a\n")
    write(directory / "99-ignored.txt", "[database]\nconnection = sqlite:///ignored\n")
    assert [p.name for p in config_dir_files(directory)] == ["10-a.conf", "20-b.conf"]
    assert resolve(tmp_path, config_dir=directory).url == "sqlite:///b"
    base = write(tmp_path / "base.conf", "[database]\nconnection = sqlite:///base\n")
    assert resolve(tmp_path, config_files=[base], config_dir=directory).url == "sqlite:///b"
    with pytest.raises(DBConfigurationError, match="config directory"):
        resolve(tmp_path, config_dir=tmp_path / "missing")


def test_default_section_does_not_leak_and_values_are_literal(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "glance-api.conf",
        "[DEFAULT]\nconnection = sqlite:///wrong\n[database]\n"
        "connection = postgresql://glance:p%40ss$word@db/glance\n",
    )
    merged = read_config_files([conf])
    assert merged["DEFAULT"] == {"connection": "sqlite:///wrong"}
    assert resolve(tmp_path, config_files=[conf]).url == "postgresql://glance:p%40ss$word@db/glance"
    only_default = write(tmp_path / "d.conf", "[DEFAULT]\nconnection = sqlite:///wrong\n")
    with pytest.raises(DBConfigurationError, match=r"No \[database\] connection"):
        resolve(tmp_path, config_files=[only_default])


def test_explicit_files_without_a_connection_are_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "glance-api.conf", "[DEFAULT]\ndebug = true\n")
    with pytest.raises(DBConfigurationError, match=r"No \[database\] connection.*glance-api.conf"):
        resolve(tmp_path, config_files=[conf], environ={ENV: "sqlite:///env"})
    with pytest.raises(DBConfigurationError, match="Cannot read config file"):
        resolve(tmp_path, config_files=[tmp_path / "missing.conf"])
    broken = write(tmp_path / "broken.conf", "no section header\n")
    with pytest.raises(DBConfigurationError, match="Cannot parse config file"):
        resolve(tmp_path, config_files=[broken])


def test_glance_conf_without_connection_falls_through(tmp_path: Path) -> None:
    glance = write(tmp_path / "glance-api.conf", "[DEFAULT]\ndebug = true\n")
    assert resolve(tmp_path, glance_conf=glance).url == "sqlite:///glancedb.sqlite"
    with_replica = write(
        tmp_path / "g2.conf",
        "[database]\nconnection = mysql+pymysql://g@db/glance\n"
        "slave_connection = mysql+pymysql://g@replica/glance\n",
    )
    settings = resolve(tmp_path, glance_conf=with_replica)
    assert settings.read_url == "mysql+pymysql://g@replica/glance"
    assert settings.source == str(with_replica)


keys = st.sampled_from(["connection", "slave_connection", "other"])
values = st.text(alphabet="abcdefgh:/", min_size=1, max_size=8)
files = st.lists(st.dictionaries(keys, values, max_size=3), min_size=1, max_size=4)


@given(files)
def test_merging_is_last_file_wins_key_by_key(
    tmp_path_factory: pytest.TempPathFactory, contents: list[dict[str, str]]
) -> None:
    directory = tmp_path_factory.mktemp("merge")
    paths = []
    for i, content in enumerate(contents):
        body = "".join(f"{key} = {value}\n" for key, value in content.items())
        paths.append(write(directory / f"{i}.conf", "[database]\n" + body))
    expected: dict[str, str] = {}
    for content in contents:
        expected.update(content)
    assert read_config_files(paths).get("database", {}) == expected
