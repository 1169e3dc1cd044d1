"""A throwaway PostgreSQL server for the runtime proofs (MDB604/605/609), as a pytest plugin.

``conftest.py`` lists this module in ``pytest_plugins``; tests ask for the session fixture
``pg`` (a :class:`PgServer`) and, for isolation, ``pg.new_database()``.

Nothing is installed at test time: the server binaries must already be there (``.ci/run``
installs the distribution's ``postgresql`` package when ``initdb``/``pg_ctl`` are missing). The
harness runs ``initdb`` and ``pg_ctl`` on a temporary data directory and a free loopback port,
as a non-root user (``runuser -u postgres`` when the suite runs as root; the data directory is
handed to that user), starts the server, yields it, and stops and removes it at the end.

When PostgreSQL truly cannot be started the tests that need it are skipped with the reason -
except in CI (``CI=true``), where that is a failure. The terminal summary says whether the
PostgreSQL tests ran (and how many), so a run's output proves it.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pytest

ROOT_RUNS_AS = "postgres"


class PgUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def find_bindir() -> Optional[Path]:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$PG_BINDIR`` when set (and only it),
    else on PATH, else Debian's ``/usr/lib/postgresql/<version>/bin`` (newest first)."""
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        folder = Path(explicit)
        return folder if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file() else None
    candidates: List[Path] = []
    on_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(on_path):
        candidates.append(Path(os.path.realpath(on_path[0])).parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    candidates += [Path(p) for p in versions]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version_key(path: str):
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    bindir: Path
    base: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"
    dbname: str = "postgres"
    version: str = ""
    as_user: Optional[str] = None  # the OS user running the server (root runs it through runuser)
    databases: List[str] = field(default_factory=list)
    users: int = 0  # tests that used the server

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.dbname)

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def django_settings(self, dbname: Optional[str] = None) -> dict:
        """A ``DATABASES['default']`` for Django pointing at this server."""
        return {"ENGINE": "django.db.backends.postgresql", "NAME": dbname or self.dbname, "USER": self.user,
                "PASSWORD": "", "HOST": self.host, "PORT": str(self.port)}

    def connect(self, dbname: Optional[str] = None, autocommit: bool = True):
        import psycopg

        return psycopg.connect(self.dsn_for(dbname or self.dbname), autocommit=autocommit, connect_timeout=10)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database (dropped with the server)."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    # -- lifecycle ----------------------------------------------------------------------------
    def _cmd(self, *args: str) -> List[str]:
        return (["runuser", "-u", self.as_user, "--"] if self.as_user else []) + list(args)

    def _run(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.base), env=dict(os.environ, LC_ALL="C", LANG="C"))

    def start(self) -> "PgServer":
        done = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                         "-E", "UTF8", "--no-sync", "--locale=C")
        if done.returncode != 0:
            raise PgUnavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-600:]}")
        options = (f"-p {self.port} -c listen_addresses={self.host} -k {self.base} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=40")
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                         str(self.base / "server.log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.base / "server.log").read_text(errors="replace")[-800:] if (self.base / "server.log").exists() \
                else ""
            raise PgUnavailable(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-400:]} {log}")
        self.version = self._server_version()
        return self

    def _server_version(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.connect() as conn:
                    return conn.execute("SHOW server_version").fetchone()[0]
            except Exception as exc:  # psycopg.OperationalError while it starts
                if time.monotonic() > deadline:
                    raise PgUnavailable(f"server started but refuses connections: {exc}")
                time.sleep(0.2)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> PgServer:
    """Start a server or raise :class:`PgUnavailable` with the reason."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PgUnavailable("psycopg is not installed (pip install '.[test]')")
    bindir = find_bindir()
    if bindir is None:
        where = os.environ.get("PG_BINDIR") or "on PATH or in /usr/lib/postgresql/*/bin"
        raise PgUnavailable(f"initdb/pg_ctl not found ({where}); `.ci/run` installs the postgresql package")
    as_user = None
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam(ROOT_RUNS_AS)
        except KeyError:
            raise PgUnavailable(f"running as root and there is no {ROOT_RUNS_AS!r} user to run the server as")
        if shutil.which("runuser") is None:
            raise PgUnavailable("running as root and runuser is not installed")
        as_user = ROOT_RUNS_AS
    base = Path(tempfile.mkdtemp(prefix="mandu-pg-"))
    if as_user:
        os.chown(base, entry.pw_uid, entry.pw_gid)
    os.chmod(base, 0o700)
    server = PgServer(bindir, base, free_port(), as_user=as_user)
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


# -- the pytest plugin ------------------------------------------------------------------------
class _State:
    server: Optional[PgServer] = None
    error: Optional[str] = None
    passed = 0
    failed = 0
    skipped = 0


_STATE = _State()


@pytest.fixture(scope="session")
def pg():
    """The session's PostgreSQL server (started on first use)."""
    if _STATE.server is None and _STATE.error is None:
        try:
            _STATE.server = start_server()
        except PgUnavailable as exc:
            _STATE.error = str(exc)
    if _STATE.server is None:
        if in_ci():
            pytest.fail(f"PostgreSQL could not be started (CI=true, so this fails): {_STATE.error}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {_STATE.error}")
    yield _STATE.server


def pytest_sessionfinish(session, exitstatus):
    if _STATE.server is not None:
        _STATE.server.stop()


def pytest_runtest_logreport(report):
    if "pg" not in getattr(report, "fixturenames", ()) and "pg" not in report.keywords:
        return
    if report.when == "call":
        if report.passed:
            _STATE.passed += 1
        elif report.failed:
            _STATE.failed += 1
    elif report.skipped:
        _STATE.skipped += 1


def pytest_collection_modifyitems(items):
    for item in items:
        if "pg" in getattr(item, "fixturenames", ()):
            item.add_marker("pg")


def pytest_configure(config):
    config.addinivalue_line("markers", "pg: needs the PostgreSQL harness (tests/pg.py)")


def pytest_terminal_summary(terminalreporter):
    total = _STATE.passed + _STATE.failed + _STATE.skipped
    if not total:
        return
    server = _STATE.server
    if server is not None:
        who = f" as user {server.as_user}" if server.as_user else ""
        line = (f"PostgreSQL tests ran: {_STATE.passed} passed, {_STATE.failed} failed, {_STATE.skipped} skipped "
                f"on PostgreSQL {server.version} at {server.host}:{server.port}{who} ({server.bindir})")
    else:
        line = f"PostgreSQL tests NOT run: {_STATE.skipped} skipped ({_STATE.error})"
    terminalreporter.write_sep("-", "postgresql harness")
    terminalreporter.write_line(line)
