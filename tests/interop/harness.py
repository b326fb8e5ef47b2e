"""Both apps and one browser: what the interop scenarios drive.

``Pairing`` is one configuration told to both sides: it renders the
environment of the Express app (``app.js``) and the ``EXPSESSION`` setting
of the Django app, so the two cannot drift apart. Express keeps its
sessions with connect-redis, Django with RedisStore, or with CacheStore on
a django-redis cache (``Pairing.over_cache``), whose made key prefix is
then connect-redis's prefix; or (``Pairing.over_postgres``) Express with
connect-pg-simple and Django with DatabaseStore on its table
(``TABLE_LAYOUT``). ``ExpressApp`` runs
``node app.js`` on a socket opened here (handed over as ``LISTEN_FD``, so
the port is known before Node starts and nobody can take it); ``DjangoApp``
runs our middleware in-process through the test ``Client``. ``Browser``
keeps one cookie jar for both and speaks to either the same way.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from django.core.cache import caches
from django.test import Client

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 30.0
VERSIONS = ("express4", "express5")
PACKAGES = ("express4", "express5", "express-session", "connect-redis", "redis", "connect-pg-simple")
COOKIE_NAME = "app.sid"
# A scenario starts on the first app and goes on on the second.
DIRECTIONS = {"express-to-django": ("express", "django"), "django-to-express": ("django", "express")}
STORE_BACKENDS = {
    "RedisStore": "django_expsession.stores.redis.RedisStore",
    "CacheStore": "django_expsession.stores.cache.CacheStore",
    "DatabaseStore": "django_expsession.stores.db.DatabaseStore",
}
# The Django stores that share sessions with connect-redis (CacheStore on django-redis).
SHARED_STORES = ("RedisStore", "CacheStore")


def missing_node_parts() -> str | None:
    """Why the Express side cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "Node.js (node) is not on PATH"
    absent = [name for name in PACKAGES if not (HERE / "node_modules" / name / "package.json").exists()]
    if absent:
        return f"npm packages missing ({', '.join(absent)}); run `npm ci --prefix tests/interop`"
    return None


@dataclass(frozen=True)
class Pairing:
    """One session configuration, told to Express and to Django alike.

    ``prefix`` is connect-redis's: where the sessions live in Redis. Django
    has RedisStore with that ``PREFIX``, or (``store="CacheStore"``)
    CacheStore on the cache ``cache`` with ``KEY_PREFIX`` ``key_prefix``.
    With ``store="DatabaseStore"`` both keep connect-pg-simple's ``table``
    instead: Express connects to ``pg_url``, Django uses the ``DATABASES``
    alias ``database``, and ``time_zone`` (if any) is Django's TIME_ZONE
    option.
    """

    prefix: str
    secrets: tuple[str, ...] = ("interop secret, ключ 🔑",)
    name: str = COOKIE_NAME
    max_age: int | None = 3600  # seconds; express gets milliseconds
    path: str = "/"
    samesite: str | None = "lax"
    secure: bool = True
    httponly: bool = True
    proxy: bool | None = True
    trust_proxy: Any = None  # express's app.set("trust proxy"); Django: SECURE_PROXY_SSL_HEADER
    resave: bool = False
    save_uninitialized: bool = False
    rolling: bool = False
    ttl: int | None = None  # seconds a browser-session record lives; None: both default to a day
    store: str = "RedisStore"
    cache: str = "default"  # CacheStore's CACHE and KEY_PREFIX (their defaults)
    key_prefix: str = "expsession:"
    # A node of a Redis Cluster both apps use instead of REDIS_URL: Express
    # through node-redis's cluster client, Django with CLUSTER and connect-redis's
    # keys (HASH_TAGS off).
    cluster_url: str | None = None
    table: str = "session"  # connect-pg-simple's tableName, DatabaseStore's TABLE
    pg_url: str = ""
    database: str | None = None
    time_zone: str | None = None

    @classmethod
    def over_cache(cls, cache: str, key_prefix: str, **options: Any) -> Pairing:
        """Django on CacheStore: connect-redis's prefix is the key the cache makes of KEY_PREFIX."""
        made = str(caches[cache].make_key(key_prefix))
        return cls(prefix=made, store="CacheStore", cache=cache, key_prefix=key_prefix, **options)

    @classmethod
    def over_postgres(cls, table: str, pg_url: str, database: str | None, **options: Any) -> Pairing:
        """Both on connect-pg-simple's ``table``: Express at ``pg_url``, Django on alias ``database``."""
        return cls(prefix="", store="DatabaseStore", table=table, pg_url=pg_url, database=database, **options)

    def replace(self, **changes: Any) -> Pairing:
        return dataclasses.replace(self, **changes)

    def index_prefix(self) -> str:
        """Where Django keeps its per-user sets: never under ``prefix``."""
        if self.store == "CacheStore":
            return str(caches[self.cache].make_key("users:" + self.key_prefix))
        return "expsession-users:" + self.prefix

    def express_cookie(self) -> dict[str, Any]:
        cookie: dict[str, Any] = {"path": self.path, "httpOnly": self.httponly, "secure": self.secure}
        if self.max_age is not None:
            cookie["maxAge"] = self.max_age * 1000
        if self.samesite is not None:
            cookie["sameSite"] = self.samesite
        return cookie

    def express_env(self, redis_url: str) -> dict[str, str]:
        options: dict[str, Any] = {
            "resave": self.resave,
            "saveUninitialized": self.save_uninitialized,
            "rolling": self.rolling,
        }
        if self.proxy is not None:
            options["proxy"] = self.proxy
        env = {
            "SESSION_SECRETS": json.dumps(list(self.secrets)),
            "SESSION_NAME": self.name,
            "SESSION_COOKIE": json.dumps(self.express_cookie()),
            "SESSION_OPTIONS": json.dumps(options),
        }
        if self.store == "DatabaseStore":
            env.update({"STORE": "pg", "PG_URL": self.pg_url, "PG_TABLE": self.table})
        else:
            url = redis_url if self.cluster_url is None else self.cluster_url
            env.update({"STORE": "redis", "REDIS_URL": url, "STORE_PREFIX": self.prefix})
        if self.cluster_url is not None:
            env["REDIS_CLUSTER"] = "1"
        if self.ttl is not None:
            env["STORE_TTL"] = str(self.ttl)
        if self.trust_proxy is not None:
            env["TRUST_PROXY"] = json.dumps(self.trust_proxy)
        return env

    def expsession(self, redis_url: str) -> dict[str, Any]:
        cookie: dict[str, Any] = {
            "PATH": self.path,
            "HTTPONLY": self.httponly,
            "SECURE": self.secure,
            "MAX_AGE": self.max_age,
        }
        if self.samesite is not None:
            cookie["SAMESITE"] = self.samesite.capitalize()
        options: dict[str, Any]
        if self.store == "CacheStore":
            options = {"CACHE": self.cache, "KEY_PREFIX": self.key_prefix}
        elif self.cluster_url is not None:
            options = {"URL": self.cluster_url, "CLUSTER": True, "HASH_TAGS": False, "PREFIX": self.prefix}
        elif self.store == "DatabaseStore":
            options = {"TABLE_LAYOUT": "connect-pg-simple", "TABLE": self.table}
            if self.database is not None:
                options = {"USING": self.database, **options}
            if self.time_zone is not None:
                options["TIME_ZONE"] = self.time_zone
        else:
            options = {"URL": redis_url, "PREFIX": self.prefix}
        if self.ttl is not None:
            options["TTL"] = self.ttl
        return {
            "SECRET": list(self.secrets),
            "NAME": self.name,
            "RESAVE": self.resave,
            "SAVE_UNINITIALIZED": self.save_uninitialized,
            "ROLLING": self.rolling,
            "PROXY": self.proxy,
            "COOKIE": cookie,
            "STORE": {"BACKEND": STORE_BACKENDS[self.store], "OPTIONS": options},
        }


@dataclass
class Reply:
    """An answer from either app: status, JSON body, Set-Cookie lines."""

    side: str
    status: int
    body: Any
    set_cookies: list[str]

    def set_cookie(self, name: str) -> str | None:
        """The Set-Cookie line for ``name``, if the response has one."""
        found = [line for line in self.set_cookies if line.split("=", 1)[0].strip() == name]
        assert len(found) <= 1, f"{self.side} sent {len(found)} Set-Cookie lines for {name}: {found}"
        return found[0] if found else None

    def expires(self, name: str) -> float | None:
        """The cookie's ``Expires`` as epoch seconds."""
        line = self.set_cookie(name)
        assert line is not None, f"{self.side} sent no Set-Cookie for {name}"
        for attribute in line.split(";")[1:]:
            key, _, value = attribute.strip().partition("=")
            if key.lower() == "expires":
                return parsedate_to_datetime(value).timestamp()
        return None


class App(Protocol):
    label: str

    def call(self, method: str, path: str, body: Any, headers: Mapping[str, str]) -> Reply: ...


@dataclass
class ExpressApp:
    label: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def call(self, method: str, path: str, body: Any, headers: Mapping[str, str]) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = dict(headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()  # \u escapes: any JS string can be sent
            sent["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=sent)
            raw = connection.getresponse()
            text = raw.read().decode()
            set_cookies = [v for k, v in raw.getheaders() if k.lower() == "set-cookie"]
            return Reply(self.label, raw.status, json.loads(text) if text else None, set_cookies)
        finally:
            connection.close()

    def output(self) -> str:
        """What Node printed, for a failure report."""
        parts = []
        for label, path in (("stderr", self.stderr), ("stdout", self.stdout)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {label} ---\n{text.strip() or '(empty)'}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def launch_express(version: str, env: Mapping[str, str], log_dir: Path) -> ExpressApp:
    """``node app.js`` under ``version``, serving once this returns."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = log_dir / f"{version}-{port}.out", log_dir / f"{version}-{port}.err"
    environ = {**os.environ, **env, "EXPRESS": version, "LISTEN_FD": str(listener.fileno())}
    environ.pop("PORT", None)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            ["node", "app.js"],
            cwd=HERE,
            env=environ,
            stdout=out,
            stderr=err,
            pass_fds=(listener.fileno(),),
        )
    listener.close()  # Node holds its own copy
    app = ExpressApp(version, "127.0.0.1", port, process, stdout, stderr)
    try:
        _wait_until_serving(app)
    except BaseException:
        app.stop()
        raise
    return app


def _wait_until_serving(app: ExpressApp) -> None:
    # The socket already listens: the request waits in the backlog until
    # Node accepts it, and fails at once if Node exits (the socket closes).
    try:
        connection = http.client.HTTPConnection(app.host, app.port, timeout=START_TIMEOUT)
        connection.request("GET", "/health")
        answer = connection.getresponse()
        answer.read()
        connection.close()
        if answer.status != 200:
            raise OSError(f"/health answered {answer.status}")
    except OSError as exc:
        app.process.poll()
        raise RuntimeError(
            f"{app.label} did not serve ({exc!r}, exit code {app.process.returncode}):\n{app.output()}"
        ) from None


@dataclass
class DjangoApp:
    """Our middleware in-process; the headers are what a WSGI server would send."""

    label: str = "django"
    client: Client = field(default_factory=Client)

    def call(self, method: str, path: str, body: Any, headers: Mapping[str, str]) -> Reply:
        # The Client's own cookie jar is bypassed: the browser sends the header.
        sent = {"cookie": "", **{k.lower(): v for k, v in headers.items()}}
        payload = "" if body is None else json.dumps(body)
        response = self.client.generic(method, path, payload, content_type="application/json", headers=sent)
        # As django.core.handlers.wsgi writes them.
        set_cookies = [morsel.OutputString() for morsel in response.cookies.values()]
        text = response.content.decode()
        return Reply(self.label, response.status_code, json.loads(text) if text else None, set_cookies)


@dataclass
class Browser:
    """One user agent's cookie jar over both apps (one host, so no domains).

    Paths are kept as a browser keeps them (RFC 6265): a cookie is sent on
    requests under its Path, those with longer paths first, and a cookie of
    the same name but another Path is a second cookie.
    """

    headers: dict[str, str] = field(default_factory=lambda: {"X-Forwarded-Proto": "https"})
    jar: dict[tuple[str, str], str] = field(default_factory=dict)

    def cookies_for(self, path: str) -> list[tuple[str, str]]:
        matching = [(cookie_path, name, value) for (name, cookie_path), value in self.jar.items()]
        matching = [item for item in matching if _path_matches(path, item[0])]
        matching.sort(key=lambda item: -len(item[0]))  # stable: older first among equals
        return [(name, value) for _, name, value in matching]

    def value(self, name: str, path: str = "/") -> str | None:
        """The value the browser would send first for ``name`` on ``path``."""
        return next((value for key, value in self.cookies_for(path) if key == name), None)

    def sid(self, name: str = COOKIE_NAME) -> str:
        """The session id in the cookie the browser would send to /."""
        value = self.value(name)
        assert value is not None, f"the browser holds no {name} cookie"
        return signed_sid(value)

    def paths(self, name: str) -> list[str]:
        """The paths the browser keeps a cookie ``name`` for."""
        return sorted(path for key, path in self.jar if key == name)

    def headers_for(self, path: str, cookie: str | None = None) -> dict[str, str]:
        """The headers of a request to ``path``; ``cookie`` replaces the jar's Cookie header."""
        headers = dict(self.headers)
        header = "; ".join(f"{k}={v}" for k, v in self.cookies_for(path)) if cookie is None else cookie
        if header:
            headers["Cookie"] = header
        return headers

    def call(self, app: App, method: str, path: str, body: Any = None, *, cookie: str | None = None) -> Reply:
        """One request; ``cookie`` replaces the jar's Cookie header for it."""
        reply = app.call(method, path, body, self.headers_for(path.partition("?")[0], cookie))
        assert reply.status == 200, f"{app.label} answered {reply.status}: {reply.body}"
        for line in reply.set_cookies:
            self._store(line)
        return reply

    def _store(self, line: str) -> None:
        pair, *attributes = line.split(";")
        name, _, value = pair.partition("=")
        cookie_path, expired = "/", False
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            if key.lower() == "path":
                cookie_path = attr_value
            elif key.lower() == "expires":
                expired = parsedate_to_datetime(attr_value).timestamp() <= time.time()
        if expired:
            self.jar.pop((name.strip(), cookie_path), None)
        else:
            self.jar[(name.strip(), cookie_path)] = value.strip()

    def get(self, app: App, path: str, **kwargs: Any) -> Reply:
        return self.call(app, "GET", path, **kwargs)

    def post(self, app: App, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call(app, "POST", path, {} if body is None else body, **kwargs)


def _path_matches(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def in_order(direction: str, express: App, django: App) -> tuple[App, App]:
    """The app a scenario starts on, and the other one."""
    apps = {"express": express, "django": django}
    first, second = DIRECTIONS[direction]
    return apps[first], apps[second]


def signed_sid(cookie_value: str) -> str:
    """The session id inside an ``s%3A<id>.<signature>`` cookie value."""
    raw = unquote(cookie_value)
    assert raw.startswith("s:"), raw
    return raw[2:].rsplit(".", 1)[0]


@dataclass
class Stored:
    """What Redis holds under the pairing's prefix (connect-redis's keys)."""

    client: Any  # redis.Redis with decode_responses
    prefix: str

    def raw(self, sid: str) -> str | None:
        return self.client.get(self.prefix + sid)  # type: ignore[no-any-return]

    def document(self, sid: str) -> dict[str, Any] | None:
        text = self.raw(sid)
        return None if text is None else json.loads(text)  # type: ignore[no-any-return]

    def exists(self, sid: str) -> bool:
        return bool(self.client.exists(self.prefix + sid))

    def expiry(self, sid: str) -> float:
        """When Redis drops the session, in epoch seconds."""
        ms = self.client.pexpiretime(self.prefix + sid)
        assert ms > 0, f"session {sid} has no expiry in Redis ({ms})"
        return float(ms) / 1000


@dataclass
class PgStored:
    """What connect-pg-simple's table holds (``Stored``'s questions, and ``age``).

    Read through Django's connection ``alias``: in a transactional test it
    sees every commit, Node's included.
    """

    table: Any  # django_expsession.stores.pgsimple.Table
    alias: str = "postgres"

    def _one(self, sql: str, params: list[Any]) -> Any:
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def raw(self, sid: str) -> str | None:
        found = self._one(f"SELECT sess::text FROM {self.table.qualified} WHERE sid = %s", [sid])
        return None if found is None else str(found[0])

    def document(self, sid: str) -> dict[str, Any] | None:
        text = self.raw(sid)
        return None if text is None else json.loads(text)  # type: ignore[no-any-return]

    def exists(self, sid: str) -> bool:
        return self.raw(sid) is not None

    def expiry(self, sid: str, zone: str | None = None) -> float:
        """``expire`` as epoch seconds, read in the database's TimeZone (or ``zone``)."""
        found = self._one(
            f"SELECT extract(epoch FROM timezone({'%s' if zone else SERVER_ZONE}, expire)) "
            f"FROM {self.table.qualified} WHERE sid = %s",
            [zone, sid] if zone else [sid],
        )
        assert found is not None, f"session {sid} is not in {self.table.label}"
        return float(found[0])

    def wall_clock(self, sid: str) -> Any:
        """``expire`` as stored: a naive datetime."""
        found = self._one(f"SELECT expire FROM {self.table.qualified} WHERE sid = %s", [sid])
        assert found is not None
        return found[0]

    def age(self, sid: str, seconds: float) -> None:
        """Make the session ``seconds`` older: ``expire`` and ``cookie.expires`` move back.

        What both apps would see had the session been written that much
        earlier; it stands in for waiting, across the Node process too.
        """
        document = self.document(sid)
        assert document is not None
        cookie = document["cookie"]
        if cookie.get("expires") is not None:
            moved = datetime.fromisoformat(cookie["expires"]) - timedelta(seconds=seconds)
            cookie["expires"] = moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moved.microsecond // 1000:03d}Z"
        self._one(
            f"UPDATE {self.table.qualified} SET sess = CAST(%s AS json), "
            "expire = expire - make_interval(secs => %s) WHERE sid = %s RETURNING sid",
            [json.dumps(document, separators=(",", ":"), ensure_ascii=False), seconds, sid],
        )


SERVER_ZONE = "(SELECT reset_val FROM pg_settings WHERE name = 'TimeZone')"
