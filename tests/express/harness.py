"""One way to drive the express catalogue through both request paths.

Every test here runs twice, through the sync path (WSGI, test ``Client``,
a sync view) and the async path (ASGI, ``AsyncClient``, an async view), on
every store of ``tests.conftest.STORES``. A test writes its view once as
an ``async def``; session I/O goes through ``await http.io(obj).method()``,
which in sync mode calls the real sync method (the coroutine then never
suspends and is run inline by the sync view) and in async mode awaits its
``a``-prefixed twin.

Requests carry exactly the cookies a test gives them (no cookie jar), and
the raw request target a real server reports (``REQUEST_URI`` / ASGI
``raw_path``), the way express's tests echo the first Set-Cookie line back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, unquote

from asgiref.sync import async_to_sync
from django.http import HttpRequest, StreamingHttpResponse
from django.test import AsyncClient, Client

from django_expsession.stores.base import Store

from . import faults

SECRET = "keyboard cat"


def sign_cookie(sid: str, secret: str | bytes = SECRET) -> str:
    """``encodeURIComponent('s:' + signature.sign(sid, secret))``, written independently."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, sid.encode(), hashlib.sha256).digest()
    signed = "s:" + sid + "." + base64.b64encode(mac).decode().rstrip("=")
    return quote(signed, safe="-_.!~*'()")


def attributes(line: str) -> dict[str, str | None]:
    """A Set-Cookie line's attributes: ``{"Path": "/", "HttpOnly": None, ...}``."""
    result: dict[str, str | None] = {}
    for part in line.split(";")[1:]:
        name, eq, value = part.strip().partition("=")
        result[name] = value if eq else None
    return result


@dataclass
class Result:
    """What a client sees: status, body, every Set-Cookie line, headers."""

    status: int
    body: str
    set_cookie: list[str]
    headers: Any
    name: str
    exc: BaseException | None = None

    @property
    def cookie(self) -> str | None:
        """The session cookie's Set-Cookie line (express's ``cookie(res)``)."""
        for line in self.set_cookie:
            if line.split("=", 1)[0] == self.name:
                return line
        return None

    @property
    def value(self) -> str | None:
        """The session cookie's value, still percent-encoded."""
        line = self.cookie
        return None if line is None else line.split(";", 1)[0].split("=", 1)[1]

    @property
    def sid(self) -> str | None:
        """The id inside the signed value (express's ``sid(res)``)."""
        value = self.value
        if value is None:
            return None
        decoded = unquote(value)
        assert decoded.startswith("s:"), decoded
        return decoded[2:].split(".", 1)[0]

    @property
    def attrs(self) -> dict[str, str | None]:
        assert self.cookie is not None, "no session Set-Cookie"
        return attributes(self.cookie)

    @property
    def expires(self) -> datetime | None:
        value = self.attrs.get("Expires")
        return None if value is None else parsedate_to_datetime(value)


class _Done:
    """An awaitable that is already done: awaiting it never suspends."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover - makes this a generator


def run_inline(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("In sync mode a view may only await http.io(...) and http helpers.")


class _IO:
    def __init__(self, target: Any, mode: str) -> None:
        self._target = target
        self._mode = mode

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if self._mode == "async":
            return getattr(self._target, "a" + name)  # type: ignore[no-any-return]
        method = getattr(self._target, name)
        return lambda *args, **kwargs: _Done(method(*args, **kwargs))


@dataclass
class Http:
    """Send requests and register the view, in one of the two modes."""

    mode: str
    app: Any
    settings: Any
    sync_client: Client = field(default_factory=Client)
    async_client: AsyncClient = field(default_factory=AsyncClient)

    # -- the view -----------------------------------------------------------

    def view(self, handler: Callable[[HttpRequest], Awaitable[Any]]) -> Any:
        """Register an ``async def`` view for this test (a decorator)."""
        if self.mode == "async":
            self.settings.ROOT_URLCONF = "tests.app_async"
            self.app(handler)
        else:
            self.app(lambda request: run_inline(handler(request)))
        return handler

    def io(self, target: Any) -> _IO:
        """``await http.io(request.session).save()``: sync or async twin."""
        return _IO(target, self.mode)

    def user(self, request: HttpRequest) -> Awaitable[Any]:
        return request.auser() if self.mode == "async" else _Done(request.user)  # type: ignore[attr-defined]

    def stream(self, chunks: list[str]) -> StreamingHttpResponse:
        """A streaming response of the kind this mode serves natively."""
        if self.mode == "sync":
            return StreamingHttpResponse(iter(chunks))

        async def agen() -> Any:
            for chunk in chunks:
                yield chunk

        return StreamingHttpResponse(agen())

    def nested(self, path: str, *, cookie: str | None = None) -> Awaitable[Result]:
        """A second request sent while a view runs (express's nested request)."""
        other = replace(self, sync_client=Client(), async_client=AsyncClient())
        if self.mode == "async":
            return other._asend(other._scope("GET", path, cookie, {}, False, ""))
        return _Done(other.get(path, cookie=cookie))

    # -- requests -------------------------------------------------------------

    def get(self, path: str = "/", **kwargs: Any) -> Result:
        return self.send("GET", path, **kwargs)

    def put(self, path: str = "/", **kwargs: Any) -> Result:
        return self.send("PUT", path, **kwargs)

    def send(
        self,
        method: str,
        path: str = "/",
        *,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
        secure: bool = False,
        script_name: str = "",
        raise_exc: bool = True,
    ) -> Result:
        """One request; ``cookie`` is the whole Cookie header (e.g. a Set-Cookie line).

        ``path`` is the raw request target; ``script_name`` a mount prefix
        it starts with. ``raise_exc=False`` turns a view error into a 500.
        """
        headers = dict(headers or {})
        if self.mode == "async":
            self.async_client.raise_request_exception = raise_exc
            return async_to_sync(self._asend)(self._scope(method, path, cookie, headers, secure, script_name))
        client = self.sync_client
        client.cookies = SimpleCookie()
        client.raise_request_exception = raise_exc
        if cookie is not None:
            headers["cookie"] = cookie
        assert path.startswith(script_name)
        response = client.generic(
            method,
            path[len(script_name) :] or "/",
            secure=secure,
            headers=headers,
            SCRIPT_NAME=script_name,
            REQUEST_URI=path,
        )
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return self._result(response, body)

    def _scope(
        self,
        method: str,
        path: str,
        cookie: str | None,
        headers: dict[str, str],
        secure: bool,
        script_name: str,
    ) -> dict[str, Any]:
        headers = {"host": "testserver", **{k.lower(): v for k, v in headers.items()}}
        if cookie is not None:
            headers["cookie"] = cookie
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        target, _, query = path.partition("?")
        return {
            "method": method,
            "path": unquote(target),
            "raw_path": target.encode("latin-1"),
            "root_path": script_name,
            "query_string": query.encode("latin-1"),
            "scheme": "https" if secure else "http",
            "server": ("testserver", "443" if secure else "80"),
            "headers": raw,
        }

    async def _asend(self, scope: dict[str, Any]) -> Result:
        self.async_client.cookies = SimpleCookie()
        response = await self.async_client.request(**scope)
        if response.streaming:
            body = b"".join([chunk async for chunk in response.streaming_content])
        else:
            body = response.content
        return self._result(response, body)

    def _result(self, response: Any, body: bytes) -> Result:
        # The lines a WSGI/ASGI server writes: a view's own Set-Cookie
        # header first, then one per entry of response.cookies.
        lines = [v for k, v in response.items() if k.lower() == "set-cookie"]
        lines += [morsel.output(header="").strip() for morsel in response.cookies.values()]
        exc_info = getattr(response, "exc_info", None)
        return Result(
            status=response.status_code,
            body=body.decode(),
            set_cookie=lines,
            headers=response.headers,
            name=self.settings.EXPSESSION.get("NAME", "connect.sid"),
            exc=exc_info[1] if exc_info else None,
        )


def configure_failing(expsession: Any, *ops: str, **overrides: Any) -> Store:
    """``expsession.configure(...)`` with a store whose ``ops`` raise ``BoomError``."""
    return _configure(expsession, faults.failing(expsession.param.backend, *ops), overrides)


def configure_cookieless(expsession: Any, **overrides: Any) -> Store:
    """``expsession.configure(...)`` with a store that returns records without ``cookie``."""
    return _configure(expsession, faults.cookieless(expsession.param.backend), overrides)


def _configure(expsession: Any, backend: str, overrides: dict[str, Any]) -> Store:
    options = {**expsession.store_options, **overrides.pop("STORE_OPTIONS", {})}
    store: Store = expsession.configure(
        spy_on=False, STORE={"BACKEND": backend, "OPTIONS": options}, **overrides
    )
    return store
