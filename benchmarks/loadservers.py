"""Private PostgreSQL, MariaDB and Redis servers for the load run (``load.py``).

Each server lives in a temporary directory on a free port, in a process
group of its own, so that :meth:`Server.crash` can kill all of it at once
with SIGKILL (a crash: no shutdown, no flush beyond what the server has
already made durable) and :meth:`Server.start` can bring it back on the same
port and data directory. The machine's shared services are never touched.

PostgreSQL refuses to run as root: as root, its directory is given to the
``postgres`` OS user and its programs run as that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

DATABASE = "expsession_load"
REDIS_DB = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _program(*candidates: str) -> str:
    for candidate in candidates:
        for found in sorted(glob.glob(candidate), reverse=True) or [shutil.which(candidate) or ""]:
            if found and os.access(found, os.X_OK):
                return found
    raise SystemExit(f"None of {', '.join(candidates)} is installed; the load run needs it.")


class Server:
    """One private server: ``start()``, ``ready()``, ``crash()``, ``stop()``."""

    name = ""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=self.name + "-", dir=directory))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.user: str | None = None
        #: False: skip fsync where the server can (a killed process still
        #: loses nothing the kernel holds; recovery skips a slow full sync).
        self.durable = True

    # -- what each server does differently ------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def probe(self) -> None:
        """One round trip to the server; raises when it does not answer yet."""
        raise NotImplementedError

    def initialise(self) -> None:
        """Create the data directory (before the first start)."""

    def prepare(self) -> None:
        """After the first start: create the database."""

    def empty(self) -> None:
        """Remove every session (between phases)."""
        raise NotImplementedError

    def documents(self) -> dict[str, str]:
        """Every stored session document, by session id, straight from the server."""
        raise NotImplementedError

    # -- life cycle -------------------------------------------------------------------

    def start(self, timeout: float = 60) -> float:
        """Start (or restart) the server; the seconds until it answered."""
        begun = time.monotonic()
        if self._log is not None:
            self._log.close()
        self._log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: crash() kills every process of it
            user=self.user,
        )
        while True:
            try:
                self.probe()
                return time.monotonic() - begun
            except Exception:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise SystemExit(f"{self.name} exited with {code}; see {self.log_path}") from None
                if time.monotonic() - begun > timeout:
                    raise SystemExit(
                        f"{self.name} did not answer in {timeout} s; see {self.log_path}"
                    ) from None
                time.sleep(0.005)

    def ready(self) -> bool:
        try:
            self.probe()
        except Exception:
            return False
        return True

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def crash(self) -> None:
        """SIGKILL every process of the server, and wait until they are gone."""
        assert self.process is not None
        self._kill_group(signal.SIGKILL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._kill_group(signal.SIGTERM, then_kill_after=15)
        if self._log is not None:
            self._log.close()

    def _kill_group(self, signum: int, then_kill_after: float | None = None) -> None:
        assert self.process is not None
        group = self.process.pid
        begun = time.monotonic()
        with suppress(ProcessLookupError):
            os.killpg(group, signum)
        self.process.wait(timeout=30)
        # A server's own children (PostgreSQL's backends) are not ours to wait for.
        while True:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            if then_kill_after is not None and time.monotonic() - begun > then_kill_after:
                with suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            time.sleep(0.01)


class Postgres(Server):
    name = "postgres"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        bindir = os.path.dirname(_program("/usr/lib/postgresql/*/bin/initdb", "initdb"))
        self.initdb, self.postgres = f"{bindir}/initdb", f"{bindir}/postgres"
        if os.geteuid() == 0:
            self.user = "postgres"
            shutil.chown(self.directory, "postgres")

    def initialise(self) -> None:
        subprocess.run(
            [self.initdb, "-D", str(self.directory / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            user=self.user,
        )

    def command(self) -> list[str]:
        # Durable as shipped (fsync and synchronous_commit on): a crash loses
        # nothing that was committed. Without fsync a killed server loses
        # nothing either (the kernel has every committed write), and its
        # restart skips syncing the whole data directory, seconds on a busy disk.
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.directory),
            "max_connections": "40",
            "shared_buffers": "32MB",
            "fsync": "on" if self.durable else "off",
        }
        flags = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
        return [self.postgres, "-D", str(self.directory / "data"), "-p", str(self.port), *flags]

    def _connect(self, database: str = DATABASE) -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def probe(self) -> None:
        with self._connect("postgres") as connection:
            connection.execute("SELECT 1")

    def prepare(self) -> None:
        with self._connect("postgres") as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")

    def empty(self) -> None:
        with self._connect() as connection:
            connection.execute("DELETE FROM django_expsession")

    def documents(self) -> dict[str, str]:
        with self._connect() as connection:
            rows = connection.execute("SELECT sid, data FROM django_expsession WHERE expires > now()")
            return dict(rows.fetchall())


class MariaDB(Server):
    name = "mariadb"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.install = _program("mariadb-install-db", "mysql_install_db")
        self.server = _program("/usr/sbin/mariadbd", "mariadbd", "/usr/sbin/mysqld", "mysqld")
        self.as_root = ["--user=root"] if os.geteuid() == 0 else []

    def initialise(self) -> None:
        subprocess.run(
            [
                self.install,
                "--no-defaults",
                f"--datadir={self.directory / 'data'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.as_root,
            ],
            check=True,
            capture_output=True,
        )

    def command(self) -> list[str]:
        # InnoDB as shipped: innodb_flush_log_at_trx_commit = 1 (durable commits).
        return [
            self.server,
            "--no-defaults",
            f"--datadir={self.directory / 'data'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.directory / 'mariadb.sock'}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=60",
            *self.as_root,
        ]

    def _connect(self, database: str | None = DATABASE) -> Any:
        import MySQLdb  # type: ignore[import-untyped]

        options: dict[str, Any] = {"database": database} if database else {}
        return MySQLdb.connect(
            host="127.0.0.1", port=self.port, user="root", connect_timeout=2, charset="utf8mb4", **options
        )

    def _run(self, sql: str, database: str | None = DATABASE) -> list[tuple[Any, ...]]:
        connection = self._connect(database)
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = list(cursor.fetchall())
            connection.commit()
            return rows
        finally:
            connection.close()

    def probe(self) -> None:
        self._run("SELECT 1", database=None)

    def prepare(self) -> None:
        self._run(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", database=None)

    def empty(self) -> None:
        self._run("DELETE FROM django_expsession")

    def documents(self) -> dict[str, str]:
        return dict(self._run("SELECT sid, data FROM django_expsession WHERE expires > UTC_TIMESTAMP(6)"))


class Redis(Server):
    """Redis without persistence: a restart starts empty (every session is lost)."""

    name = "redis"

    def __init__(self, directory: Path, key_pattern: str = "sess:*", prefix: str = "sess:") -> None:
        super().__init__(directory)
        self.server = _program("redis-server")
        self.key_pattern, self.prefix = key_pattern, prefix

    def command(self) -> list[str]:
        return [
            self.server,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{REDIS_DB}"

    def _client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def probe(self) -> None:
        with self._client() as client:
            client.ping()

    def empty(self) -> None:
        with self._client() as client:
            client.flushdb()

    def documents(self) -> dict[str, str]:
        with self._client() as client:
            found = {}
            for key in client.scan_iter(match=self.key_pattern, count=500, _type="string"):
                text = client.get(key)
                if text is not None:
                    found[key.decode()[len(self.prefix) :]] = text.decode()
            return found


SERVERS = {"postgres": Postgres, "mariadb": MariaDB, "redis": Redis}
