"""Fixtures of the read model's tests: a throwaway PostgreSQL server for the session (from the
machine's PostgreSQL binaries) and a fresh, migrated store per test on SQLite and PostgreSQL."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from docflow.records import RecordStore, migrations
from docflow.records.schema import metadata

PG_USER = "docflow"
# PostgreSQL refuses to run as root: as root, the server runs as the first of these accounts.
PG_SYSTEM_ACCOUNTS = ("postgres", "nobody")


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl live: `pg_config --bindir`, else the newest Debian install."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(result.stdout.strip())
        if result.returncode == 0 and (candidate / "initdb").exists():
            return candidate
    installs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0)
    )
    for directory in reversed(installs):
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


def _unprivileged_account() -> pwd.struct_passwd:
    for name in PG_SYSTEM_ACCOUNTS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail(
        f"running as root and none of the accounts {PG_SYSTEM_ACCOUNTS} exists to run "
        "PostgreSQL as (it refuses to run as root)",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str) -> None:
        command = [*self.run_as, str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr}{result.stdout}{server_log}"
            )

    def start(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "-N")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self.run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60",
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = pg_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries not found (no `pg_config --bindir` with initdb, nor "
            "/usr/lib/postgresql/*/bin): install Debian's `postgresql` package "
            "(apt-get install -y postgresql) to run the read model's tests",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="docflow-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        account = _unprivileged_account()
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", account.pw_name, "--"]
    server = PostgresServer(bindir=bindir, root=root, port=_free_port(), run_as=run_as)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


MIGRATED_DATABASE = "records_migrated"


@pytest.fixture(scope="session")
def postgres_migrated(postgres_server: PostgresServer) -> str:
    """A database migrated once per session, emptied before each test that uses it."""
    _create_database(postgres_server, MIGRATED_DATABASE)
    migrations.upgrade(postgres_server.url(MIGRATED_DATABASE))
    return MIGRATED_DATABASE


def _create_database(server: PostgresServer, name: str) -> None:
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _drop_database(server: PostgresServer, name: str) -> None:
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    name = f"records_{uuid.uuid4().hex[:12]}"
    _create_database(postgres_server, name)
    yield postgres_server.url(name)
    _drop_database(postgres_server, name)


@pytest.fixture
def migrated_postgres_url(postgres_server: PostgresServer, postgres_migrated: str) -> str:
    """The session's migrated database, emptied (TRUNCATE is much cheaper than a new one)."""
    url = postgres_server.url(postgres_migrated)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("records-template") / "records.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    """An empty store with the newest schema on each backend (a copy of a migrated SQLite
    file; the session's migrated PostgreSQL database, truncated)."""
    if request.param == "sqlite":
        path = tmp_path / "records.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = str(request.getfixturevalue("migrated_postgres_url"))
    records = RecordStore(url)
    records.migrate()  # already at head: a no-op
    try:
        yield records
    finally:
        records.close()
