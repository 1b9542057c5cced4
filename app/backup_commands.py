"""`longtrust backup --to FILE` and `longtrust restore --from FILE`.

A backup is a gzip'd tar archive holding ``manifest.json`` (format, time, database kind and the
SHA-256 of every other member), the database (SQLite: a consistent copy made with SQLite's online
backup API while the service runs; PostgreSQL: a ``pg_dump --format=custom`` dump) and the files of
the data folder the deployment needs (the audit checkpoints, among others). Private keys are in the
database and stay wrapped by the KEK; the KEK (an environment setting) is never written into a
backup, nor are the bootstrap token, metrics files or SQLite's lock and journal files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from app.cli import DataDir, cli, settings_for
from core.errors import ErrorCode, conflict, invalid

FORMAT = "longtrust-backup/1"
SQLITE_NAME = "longtrust.db"
PG_NAME = "longtrust.pgdump"
SKIPPED = {"bootstrap-admin.token", "metrics"}
SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".writer-lock", ".db")


def _data_files(data_dir: Path) -> list[Path]:
    """Files of the data folder that belong in a backup (see the module docstring)."""
    found = []
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if relative.parts[0] in SKIPPED or not path.is_file() or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        found.append(path)
    return found


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _dump_database(url: str, into: Path) -> tuple[str, Path]:
    """(kind, file) of a consistent database copy made in ``into``."""
    if url.startswith("sqlite"):
        source = make_url(url).database
        target = into / SQLITE_NAME
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)  # SQLite's online backup API: a consistent snapshot while writers work
        return "sqlite", target
    if shutil.which("pg_dump") is None:
        raise invalid(
            "pg_dump is not installed: back PostgreSQL up with `pg_dump --format=custom` (see "
            "docs/operations.md) and keep the data folder's files with it",
            ErrorCode.NO_PG_DUMP,
        )
    target = into / PG_NAME
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(url)],
        check=True,
        capture_output=True,
    )
    return "postgresql", target


def _add(archive: tarfile.TarFile, path: Path, name: str) -> str:
    data = path.read_bytes()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(path.stat().st_mtime)
    archive.addfile(info, io.BytesIO(data))
    return hashlib.sha256(data).hexdigest()


@cli.command("backup")
def backup(
    to: Annotated[Path, typer.Option("--to", help="archive to write (.tar.gz); never holds the KEK")],
    data_dir: DataDir = None,
) -> None:
    """Back up the database and the data folder into one archive (safe while the service runs)."""
    settings = settings_for(data_dir)
    if not settings.database_url and not (settings.data_dir / SQLITE_NAME).exists():
        raise invalid(f"{settings.data_dir.resolve()} has no database to back up", ErrorCode.EMPTY)
    with tempfile.TemporaryDirectory() as scratch:
        kind, dump = _dump_database(settings.db_url, Path(scratch))
        partial = to.with_name(to.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            files = {dump.name: _add(archive, dump, dump.name)}
            for path in _data_files(settings.data_dir):
                name = "data/" + path.relative_to(settings.data_dir).as_posix()
                files[name] = _add(archive, path, name)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(),
                "database": kind,
                "files": files,
            }
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(body), 0o600
            archive.addfile(info, io.BytesIO(body))
        partial.replace(to)
    typer.echo(
        f"backup written to {to} ({kind} database, {len(files) - 1} data file(s); the KEK is not in it)"
    )


def _read_archive(source: Path, into: Path) -> dict:
    """Unpack ``source`` into ``into`` safely and check it against its manifest."""
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            archive.extractall(into, filter="data")  # no absolute paths, links out or devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise invalid(f"{source} is not a LongTrust backup: {exc}", ErrorCode.BAD_BACKUP) from None
    try:
        manifest = json.loads((into / "manifest.json").read_text())
    except (OSError, ValueError):
        raise invalid(f"{source} has no manifest: not a LongTrust backup", ErrorCode.BAD_BACKUP) from None
    if manifest.get("format") != FORMAT:
        raise invalid(
            f"{source} is a {manifest.get('format')!r} archive, expected {FORMAT}", ErrorCode.BAD_BACKUP
        )
    for name, digest in manifest.get("files", {}).items():
        member = into / name
        if not member.is_file() or hashlib.sha256(member.read_bytes()).hexdigest() != digest:
            raise invalid(f"{source}: {name} is missing or damaged", ErrorCode.BAD_BACKUP)
    return manifest


def _prepare_target(data_dir: Path, force: bool) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        if not force:
            raise conflict(
                f"{data_dir} is not empty; restore into an empty folder or pass --force", ErrorCode.NOT_EMPTY
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)


def _restore_database(kind: str, unpacked: Path, settings) -> None:
    url = settings.db_url
    if kind == "sqlite":
        if not url.startswith("sqlite"):
            raise invalid(
                "this backup holds a SQLite database but LONGTRUST_DATABASE_URL is not SQLite", ErrorCode.KIND
            )
        target = Path(make_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(unpacked / SQLITE_NAME, target)
        os.chmod(target, 0o600)
        return
    if url.startswith("sqlite") or shutil.which("pg_restore") is None:
        raise invalid(
            "this backup holds a PostgreSQL dump: set LONGTRUST_DATABASE_URL to an empty "
            "PostgreSQL database and install pg_restore (see docs/operations.md)",
            ErrorCode.KIND,
        )
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--clean",
            "--if-exists",
            "--exit-on-error",
            f"--dbname={_libpq_url(url)}",
            str(unpacked / PG_NAME),
        ],
        check=True,
        capture_output=True,
    )


@cli.command("restore")
def restore(
    source: Annotated[Path, typer.Option("--from", help="archive written by `longtrust backup`")],
    force: Annotated[bool, typer.Option(help="replace a data folder that is not empty")] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup into an empty data folder (the same KEK must be set to use the keys)."""
    if not source.is_file():
        raise invalid(f"{source} does not exist", ErrorCode.NO_BACKUP)
    settings = settings_for(data_dir)
    with tempfile.TemporaryDirectory() as scratch:
        unpacked = Path(scratch)
        manifest = _read_archive(source, unpacked)
        _prepare_target(settings.data_dir, force)
        _restore_database(manifest["database"], unpacked, settings)
        if (unpacked / "data").is_dir():
            shutil.copytree(unpacked / "data", settings.data_dir, dirs_exist_ok=True)
    typer.echo(
        f"restored {source} into {settings.data_dir.resolve()}; check it with `longtrust audit verify`"
    )
