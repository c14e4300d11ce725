"""Which database to use: command-line flags, Glance's config files, the environment.

:func:`resolve_database_settings` turns what an operator gave into one
:class:`DatabaseSettings` (the URL, the read URL, and where they came from),
first found wins (SPEC 14):

1. an explicit URL (``--db-url``);
2. config files (``--config-file``, repeatable, then the ``*.conf`` files of
   ``--config-dir`` in sorted order), merged as oslo.config merges them:
   a later file overrides an earlier one key by key; ``[database]
   connection`` is the URL, ``[database] slave_connection`` the read URL;
3. ``$GLANCEDB_DATABASE_URL``;
4. Glance's own ``/etc/glance/glance-api.conf`` when it exists;
5. the embedded SQLite file ``./glancedb.sqlite``.

Something given explicitly never falls back silently: an empty URL, an
unreadable file or config files without ``[database] connection`` are
errors.  Everything here is pure (the environment and the path of Glance's
file are parameters), so it is tested without touching the machine.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from glancedb.engines import DEFAULT_URL_ENV, EMBEDDED_URL
from glancedb.exception import DBConfigurationError

#: Glance's API server configuration, read when nothing else names a database.
GLANCE_API_CONF = Path("/etc/glance/glance-api.conf")

#: The section and keys oslo.db reads (Glance's ``[database]`` options).
DATABASE_SECTION = "database"
CONNECTION_KEY = "connection"
READ_CONNECTION_KEY = "slave_connection"

# A section name no config file uses: configparser's DEFAULT section would
# otherwise leak its keys into every section, which oslo.config does not do.
_NO_DEFAULT_SECTION = "\x00glancedb-no-default-section"


@dataclass(frozen=True)
class DatabaseSettings:
    """The database to open: its URL, an optional read-replica URL, and their source."""

    #: The read-write database URL.
    url: str
    #: A read-replica URL (oslo.db's ``slave_connection``), or None.
    read_url: str | None
    #: Where the URL came from, for messages: ``--db-url``, a file name,
    #: ``$GLANCEDB_DATABASE_URL`` or ``the embedded default``.
    source: str


def config_dir_files(config_dir: str | Path) -> list[Path]:
    """The ``*.conf`` files of ``config_dir``, in sorted order (as oslo.config reads them).

    :raises DBConfigurationError: the directory does not exist or cannot be read.
    """
    directory = Path(config_dir)
    try:
        names = sorted(entry.name for entry in os.scandir(directory))
    except OSError as exc:
        raise DBConfigurationError(
            f"Cannot read config directory {str(directory)!r}: {exc.strerror}"
        ) from None
    return [directory / name for name in names if name.endswith(".conf")]


def read_config_files(paths: Sequence[str | Path]) -> dict[str, dict[str, str]]:
    """The sections of ``paths`` merged in order: a later file overrides key by key.

    Section names are case-insensitive except ``DEFAULT`` (as oslo.config);
    values are taken literally (no interpolation); within a file the last
    occurrence of a key wins.

    :raises DBConfigurationError: a file cannot be read or parsed.
    """
    merged: dict[str, dict[str, str]] = {}
    for path in paths:
        parser = configparser.ConfigParser(
            interpolation=None, strict=False, default_section=_NO_DEFAULT_SECTION
        )
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except OSError as exc:
            raise DBConfigurationError(
                f"Cannot read config file {str(path)!r}: {exc.strerror}"
            ) from None
        except (configparser.Error, UnicodeDecodeError) as exc:
            reason = " ".join(str(exc).split())
            raise DBConfigurationError(
                f"Cannot parse config file {str(path)!r}: {reason}"
            ) from None
        for section in parser.sections():
            name = section if section == "DEFAULT" else section.lower()
            merged.setdefault(name, {}).update(parser.items(section))
    return merged


def settings_from_config(paths: Sequence[str | Path], source: str) -> DatabaseSettings | None:
    """The ``[database]`` URLs of the merged ``paths``; None when they name no connection."""
    section = read_config_files(paths).get(DATABASE_SECTION, {})
    url = section.get(CONNECTION_KEY, "").strip()
    if not url:
        return None
    read_url = section.get(READ_CONNECTION_KEY, "").strip() or None
    return DatabaseSettings(url=url, read_url=read_url, source=source)


def resolve_database_settings(
    *,
    db_url: str | None = None,
    config_files: Sequence[str | Path] = (),
    config_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    glance_conf: str | Path | None = GLANCE_API_CONF,
) -> DatabaseSettings:
    """The database settings, first found wins (the order in the module docstring).

    :param db_url: an explicit URL (``--db-url``); ``""`` is an error.
    :param config_files: Glance-style config files (``--config-file``), in order.
    :param config_dir: a directory whose ``*.conf`` files follow ``config_files``.
    :param environ: the environment (default: :data:`os.environ`); an empty
        ``GLANCEDB_DATABASE_URL`` counts as unset.
    :param glance_conf: Glance's own config file, read when it exists and
        nothing before it named a database (None: never).
    :raises DBConfigurationError: an empty URL, an unreadable or unparsable
        file, or config files given explicitly that name no database.
    """
    if db_url is not None:
        if not db_url.strip():
            raise DBConfigurationError("The database URL given is empty")
        return DatabaseSettings(url=db_url.strip(), read_url=None, source="--db-url")
    files = [Path(path) for path in config_files]
    if config_dir is not None:
        files += config_dir_files(config_dir)
    if config_files or config_dir is not None:
        named = ", ".join(str(path) for path in files) or f"{config_dir} (no *.conf files)"
        settings = settings_from_config(files, source=named)
        if settings is None:
            raise DBConfigurationError(
                f"No [{DATABASE_SECTION}] {CONNECTION_KEY} in the config files given: {named}"
            )
        return settings
    env_url = (os.environ if environ is None else environ).get(DEFAULT_URL_ENV, "").strip()
    if env_url:
        return DatabaseSettings(url=env_url, read_url=None, source=f"${DEFAULT_URL_ENV}")
    if glance_conf is not None and Path(glance_conf).exists():
        settings = settings_from_config([glance_conf], source=str(glance_conf))
        if settings is not None:
            return settings
    return DatabaseSettings(url=EMBEDDED_URL, read_url=None, source="the embedded default")
