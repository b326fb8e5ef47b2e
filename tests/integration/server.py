"""A real server for the demo site: uvicorn in a subprocess, on a tmp SQLite file.

The listening socket is opened here and handed to uvicorn (``--fd``), so
the port is known before the server starts and no other process can take
it in between. ``HttpSession`` is a tiny cookie-keeping HTTP client that
never follows redirects, so each response can be inspected.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


@dataclass
class Server:
    host: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self) -> HttpSession:
        return HttpSession(self.host, self.port)


def _env(settings_module: str, database: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The test run's own Django settings must not leak into the server.
        if not key.startswith(("DJANGO_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DEMO_SQLITE_PATH=str(database),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        **extra,
    )
    return env


def manage(env: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextmanager
def serve(
    tmp_path: Path,
    settings_module: str = "testproject.settings",
    *,
    setup: tuple[tuple[str, ...], ...] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Migrate a fresh SQLite file, run ``setup`` commands, serve with uvicorn."""
    environ = _env(settings_module, tmp_path / "db.sqlite3", env or {})
    manage(environ, "migrate", "--noinput", "-v0")
    for command in setup:
        manage(environ, *command)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "testproject.asgi:application",
                "--fd",
                str(listener.fileno()),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()  # the server holds its own copy
    server = Server("127.0.0.1", port, log)
    try:
        _wait_until_serving(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(server: Server, process: subprocess.Popen[bytes]) -> None:
    # The socket already listens, so this request simply waits in the
    # backlog until uvicorn is up; if uvicorn dies, the socket closes and
    # the request fails at once.
    try:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=START_TIMEOUT)
        connection.request("HEAD", "/login/")
        connection.getresponse().read()
        connection.close()
    except OSError as exc:
        process.poll()
        raise RuntimeError(
            f"uvicorn did not serve ({exc!r}, exit code {process.returncode}):\n{server.log.read_text()}"
        ) from None


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class HttpSession:
    """One browser's worth of cookies over plain ``http.client``."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            raw = connection.getresponse()
            response = Response(raw.status, raw.getheaders(), raw.read().decode("utf-8"))
        finally:
            connection.close()
        for line in response.set_cookies():
            name, _, value = line.split(";", 1)[0].partition("=")
            if re.search(r"(?i)expires=thu, 01 jan 1970|max-age=0\b", line):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return response

    def get(self, path: str, **kwargs: object) -> Response:
        return self.request("GET", path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, form: Mapping[str, str], **kwargs: object) -> Response:
        return self.request("POST", path, form, **kwargs)  # type: ignore[arg-type]

    def csrf_token(self, path: str) -> str:
        """GET a page with a form and return its CSRF token."""
        page = self.get(path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if match is None:
            raise AssertionError(f"no CSRF token on {path} ({page.status})")
        return match.group(1)

    def login(self, username: str, password: str) -> Response:
        token = self.csrf_token("/login/")
        return self.post(
            "/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token}
        )
