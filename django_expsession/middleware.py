"""The session middleware: express-session's request cycle inside Django.

Request: skip outside the cookie path; read the signed sid; load it from
the store or generate a new session. Response: destroy (UNSET) -> touch once
-> save or store-touch -> Set-Cookie, exactly as express decides them.
The sync and async paths share every decision and differ only in I/O.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.encoding import escape_uri_path

from . import rules, signing
from .binding import Binding, bind, bound
from .conf import conf
from .cookie import Cookie
from .document import Document, validate
from .session import RESERVED_KEY, Session
from .stores import Store, StoreError, get_store

logger = logging.getLogger("django_expsession")

_CONTEXT = "_expsession_context"

Response = HttpResponseBase


def default_genid(request: HttpRequest) -> str:
    """24 random bytes, base64url: 32 characters, like uid-safe."""
    return secrets.token_urlsafe(24)


def raw_path(request: HttpRequest) -> str:
    """The undecoded request path, as express's ``originalUrl`` pathname."""
    scope = getattr(request, "scope", None)
    if scope is not None and scope.get("raw_path"):
        path: str = scope["raw_path"].decode("latin-1")
        root: str = scope.get("root_path", "")
        # Some servers give raw_path without the mount prefix.
        return path if not root or path.startswith(root) else root + path
    meta = request.META
    uri = meta.get("RAW_URI") or meta.get("REQUEST_URI")
    if uri:
        path = uri.split("?", 1)[0]
        if "://" in path:  # an absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/"
    return escape_uri_path(request.path) or "/"


def cookie_header(request: HttpRequest) -> str | None:
    """The request's Cookie header; several ASGI header lines join with "; ".

    (HTTP/2 splits cookies over lines; Django 5.2 joins them with ",".)
    """
    scope = getattr(request, "scope", None)
    if scope is None:
        return request.META.get("HTTP_COOKIE")
    headers = scope.get("headers", ())
    lines = [value.decode("latin-1") for name, value in headers if name == b"cookie" and value]
    return "; ".join(lines) or None


def is_secure(request: HttpRequest, proxy: bool | None) -> bool:
    """express's ``issecure``: the secure gate and 'auto' resolution."""
    direct: bool = request._get_scheme() == "https"  # type: ignore[attr-defined]
    if direct or proxy is None:
        return direct or request.is_secure()
    if proxy is False:
        return False
    header = str(request.META.get("HTTP_X_FORWARDED_PROTO", ""))
    return header.split(",", 1)[0].strip().lower() == "https"


class RequestContext:
    """One request's session work, free of I/O so sync and async share it."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.store: Store = get_store()
        self.options = conf.cookie_options(request)
        self.name = conf.name
        self.proxy = conf.proxy
        self.secrets = conf.secrets
        self.skip = not raw_path(request).startswith(self.options.get("path") or "/")
        self.cookie_id: str | None = None
        if not self.skip:
            self.cookie_id = signing.sid_from_header(cookie_header(request), self.name, self.secrets)
        self._secure: bool | None = None

    @property
    def secure(self) -> bool:
        if self._secure is None:
            self._secure = is_secure(self.request, self.proxy)
        return self._secure

    # -- building the session -------------------------------------------

    def new_id(self) -> str:
        genid = conf.genid or default_genid
        sid: Any = genid(self.request)
        if not isinstance(sid, str) or not sid:
            raise TypeError(f"EXPSESSION['GENID'] must return a non-empty str, not {sid!r}.")
        return sid

    def new_cookie(self) -> Cookie:
        options = dict(self.options)
        # 'auto' is resolved once, when the session is generated, and stored.
        if options.get("secure") == "auto":
            options["secure"] = self.secure
        if options.get("sameSite") == "auto":
            options["sameSite"] = "none" if self.secure else "lax"
        return Cookie.from_options(options)

    def session(self, document: Document | None) -> Session:
        """Inflate the stored document, or generate a fresh session."""
        common: dict[str, Any] = {
            "store": self.store,
            "new_id": self.new_id,
            "new_cookie": self.new_cookie,
            "resave": conf.resave,
            "merge": conf.concurrency == "merge",
        }
        if document is not None:
            # Any store may hand back a record another program wrote.
            document = validate(document, self.cookie_id or "?")
        if document is None:
            return Session(sid=self.new_id(), data={}, cookie=self.new_cookie(), **common)
        data = dict(document)
        cookie = Cookie.from_json(data.pop(RESERVED_KEY))
        return Session(sid=self.cookie_id, data=data, cookie=cookie, loaded=True, **common)

    def bind(self, session: Session | None) -> None:
        bind(self.request, Binding(session, self.cookie_id))

    def start(self, document: Document | None) -> None:
        """Give the request its session: loaded, new, or inert outside the path."""
        self.bind(None if self.skip else self.session(document))

    def store_failed(self, exc: StoreError) -> Response | None:
        """ON_STORE_ERROR: a 503 ("raise"), or go on without a session ("anonymous").

        Either way the error is logged, nothing more is stored for this
        request and the client's cookie is left as it is.
        """
        logger.error("The session store failed: %s", exc, exc_info=exc)
        if bound(self.request) is None:
            self.bind(None)  # an inert session: contrib.auth sees an anonymous user
        if conf.on_store_error == "anonymous":
            return None
        return HttpResponse(
            "Service unavailable: the session store cannot be reached.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )

    # -- the end of the request -------------------------------------------

    def plan(self, response: Response) -> tuple[str, Session | None, rules.Decision | None]:
        """('skip' | 'destroy' | 'live', session, decision)."""
        state = bound(self.request)
        if state is None or response.status_code >= 500:
            return "skip", None, None
        session = state.live
        if session is None:
            gone = state.session
            # express: unset "destroy" destroys whenever req.session is gone,
            # also after destroy() (a second, harmless destroy).
            if gone is not None and gone.id and conf.unset == "destroy" and (state.unset or gone.destroyed):
                return "destroy", gone, None
            return "skip", None, None
        # Touch once per request, before the save, so Set-Cookie's Expires
        # equals the stored expiry.
        session.touch()
        options = rules.Options(
            resave=conf.resave,
            save_uninitialized=conf.save_uninitialized,
            rolling=conf.rolling,
        )
        decision = rules.decide(session, state.cookie_id, options, self.secure)
        if decision.touch and (not self.store.supports_touch or self._touch_is_recent(session)):
            decision = rules.Decision(save=False, touch=False, set_cookie=decision.set_cookie)
        return "live", session, decision

    def _touch_is_recent(self, session: Session) -> bool:
        """TOUCH_AFTER, decided from the expiry read with the session: no query."""
        stored, new = session.stored_expires_ms, session.cookie.expires_ms
        return stored is not None and new is not None and self.store._touch_skipped(stored, new)

    def finish(
        self, response: Response, session: Session | None, decision: rules.Decision | None
    ) -> Response:
        # A merge that found the session destroyed meanwhile sends no cookie.
        if (
            session is not None
            and decision is not None
            and decision.set_cookie
            and session.id
            and not session.destroyed
        ):
            value = signing.cookie_value(session.id, self.secrets[0])
            response.cookies[self.name] = session.cookie.morsel(self.name, value)
            # This response now belongs to one visitor, even when the view never
            # touched the session (saveUninitialized, rolling): keep Django's
            # cache middleware and shared caches from replaying it to others.
            patch_cache_control(response, private=True)
        state = bound(self.request)
        if state is not None and state.accessed:
            patch_vary_headers(response, ("Cookie",))
        return response


class SessionMiddleware(DjangoSessionMiddleware):
    """express-session semantics for ``request.session``; sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        # Django's __init__ would import SESSION_ENGINE; this middleware
        # uses the configured store instead. Settings are checked now so a
        # bad configuration fails at startup, not at the first request.
        conf.validate()
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    # The request cycle, as Django's hooks so that code driving the
    # middleware by hand (RequestFactory tests) keeps working; the async
    # path below mirrors it with the stores' async twins.

    def process_request(self, request: HttpRequest) -> Response | None:  # type: ignore[override]
        context = self._begin(request)
        if context is None:
            return None
        try:
            document = context.store.get(context.cookie_id) if context.cookie_id else None
        except StoreError as exc:
            return context.store_failed(exc)
        context.start(document)
        return None

    def process_response(self, request: HttpRequest, response: Response) -> Response:  # type: ignore[override]
        context = self._end(request)
        if context is None:
            return response
        outcome, session, decision = context.plan(response)
        try:
            if outcome == "destroy":
                context.store.destroy(session.id)  # type: ignore[union-attr, arg-type]
            elif outcome == "live":
                assert session is not None and decision is not None
                if decision.save:
                    session.save()
                elif decision.touch:
                    context.store.touch(session.id, session.document())  # type: ignore[arg-type]
        except StoreError as exc:
            return context.store_failed(exc) or context.finish(response, None, None)
        return context.finish(response, session, decision)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        response = self.process_request(request) or self.get_response(request)
        return self.process_response(request, response)  # type: ignore[arg-type]

    async def _acall(self, request: HttpRequest) -> Any:
        get_response: Callable[[HttpRequest], Awaitable[Response]] = self.get_response  # type: ignore[assignment]
        context = self._begin(request)
        response: Response | None = None
        if context is not None:
            try:
                document = await context.store.aget(context.cookie_id) if context.cookie_id else None
            except StoreError as exc:
                response = context.store_failed(exc)
            else:
                context.start(document)
        if response is None:
            response = await get_response(request)
        context = self._end(request)
        if context is None:
            return response
        outcome, session, decision = context.plan(response)
        try:
            if outcome == "destroy":
                await context.store.adestroy(session.id)  # type: ignore[union-attr, arg-type]
            elif outcome == "live":
                assert session is not None and decision is not None
                if decision.save:
                    await session.asave()
                elif decision.touch:
                    await context.store.atouch(session.id, session.document())  # type: ignore[arg-type]
        except StoreError as exc:
            return context.store_failed(exc) or context.finish(response, None, None)
        return context.finish(response, session, decision)

    def _begin(self, request: HttpRequest) -> RequestContext | None:
        """The request's context, or None when it already has a session."""
        if getattr(request, "session", None):
            return None  # e.g. this middleware listed twice: leave it be
        context = RequestContext(request)
        request.__dict__[_CONTEXT] = (self, context)
        return context

    def _end(self, request: HttpRequest) -> RequestContext | None:
        owner, context = request.__dict__.get(_CONTEXT, (None, None))
        if owner is not self:
            return None
        del request.__dict__[_CONTEXT]
        return context  # type: ignore[no-any-return]
