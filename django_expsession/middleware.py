"""The session middleware: express-session's request cycle inside Django.

Request: skip outside the cookie path; read the signed sid; read that
session from the store (one round trip) or leave a new one to be made on
first use. Response: destroy (UNSET) -> touch once -> save or store-touch
-> Set-Cookie, exactly as express decides them (``decision.py``). The
response side is written once, as a coroutine over the store's sync or
async operations (``drive.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import conf, events, lifetime, signals, signing
from . import factory as factories
from .binding import RequestSession, bind, bound
from .decision import SKIP, Action, Decision, Facts, decide, should_set_cookie
from .drive import run
from .requestinfo import cookie_header, is_secure, raw_path
from .session import AUTH_KEY, Session
from .stores import StoreError, get_store
from .stores.base import AsyncCalls, Calls, SyncCalls

logger = logging.getLogger("django_expsession")

Response = HttpResponseBase


_warned_prefixes: set[str] = set()
_warned_secure = False


def _warn_secure_over_http_once() -> None:
    global _warned_secure
    if not _warned_secure:
        _warned_secure = True
        logger.warning(
            "A Secure session cookie was not sent: the request came over plain HTTP, and a browser "
            "would drop it (the session is stored all the same, as express does). Over runserver or "
            "behind a TLS proxy, use COOKIE SECURE 'auto' (and PROXY or SECURE_PROXY_SSL_HEADER)."
        )


def _warn_prefix_once(name: str) -> None:
    if name not in _warned_prefixes:
        _warned_prefixes.add(name)
        logger.warning(
            "The session cookie %r was not sent: its prefix needs Secure, and SECURE 'auto' made it "
            "not Secure over plain HTTP. Serve the site over HTTPS (or set PROXY), or drop the prefix.",
            name,
        )


class SessionMiddleware(DjangoSessionMiddleware):
    """express-session semantics for ``request.session``; sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        # Django's __init__ would import SESSION_ENGINE; this middleware
        # uses the configured store instead. Settings and store are checked
        # now, so a bad configuration fails at startup, not at the first request.
        conf.current()
        get_store()
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    # The request cycle, as Django's hooks so that code driving the
    # middleware by hand (RequestFactory tests) keeps working; the async
    # path below mirrors it with the stores' async twins.

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        response = self.process_request(request) or self.get_response(request)
        return self.process_response(request, response)  # type: ignore[arg-type]

    def process_request(self, request: HttpRequest) -> Response | None:  # type: ignore[override]
        begun = self._begin(request)
        if begun is None:
            return None
        found, cookie_id = begun
        factory = found.factory
        if cookie_id is None or factory is None:
            return None
        try:
            if factory.lifecycle:
                found.record, found.made = run(
                    lifetime.load(SyncCalls(factory.store), factory, request, found.options, cookie_id)
                )
            else:
                found.record = factory.store.read(cookie_id)
                if found.record is None:
                    events.rejected("unknown-id", cookie_id, request)
        except StoreError as exc:
            return self._store_failed(found, exc)
        return None

    def process_response(self, request: HttpRequest, response: Response) -> Response:  # type: ignore[override]
        found = bound(request)
        if found is None or found.owner is not self:
            return response
        session, decision = self._plan(found, response)
        if decision.action is not Action.NOTHING:
            return run(self._carry_out(found, response, session, decision, SyncCalls(found.factory.store)))  # type: ignore[union-attr]
        return self._headers(found, response, session, decision)

    async def _acall(self, request: HttpRequest) -> Any:
        get_response: Callable[[HttpRequest], Awaitable[Response]] = self.get_response  # type: ignore[assignment]
        begun = self._begin(request)
        response: Response | None = None
        if begun is not None:
            found, cookie_id = begun
            factory = found.factory
            if cookie_id is not None and factory is not None:
                try:
                    if factory.lifecycle:
                        found.record, found.made = await lifetime.load(
                            AsyncCalls(factory.store), factory, request, found.options, cookie_id
                        )
                    else:
                        found.record = await factory.store.aread(cookie_id)
                        if found.record is None:
                            events.rejected("unknown-id", cookie_id, request)
                except StoreError as exc:
                    response = self._store_failed(found, exc)
        if response is None:
            response = await get_response(request)
        found = bound(request)  # type: ignore[assignment]
        if found is None or found.owner is not self:
            return response
        session, decision = self._plan(found, response)
        if decision.action is not Action.NOTHING:
            return await self._carry_out(found, response, session, decision, AsyncCalls(found.factory.store))  # type: ignore[union-attr]
        return self._headers(found, response, session, decision)

    # -- the request ----------------------------------------------------------------

    def _begin(self, request: HttpRequest) -> tuple[RequestSession, str | None] | None:
        """Bind the request's session state; None when it already has a session."""
        if getattr(request, "session", None) is not None:
            return None  # e.g. this middleware listed twice, or another session layer: leave it be
        factory = factories.current()
        settings = factory.settings
        options = settings.cookie_options(request)
        cookie_id = None
        if raw_path(request).startswith(options.get("path") or "/"):
            header = cookie_header(request)
            raw = None if header is None else signing.raw_cookie(header, settings.name)
            if raw is not None:
                cookie_id = factory.verifier.sid(raw)
                if cookie_id is None and factory.verifier.forged(raw):
                    events.rejected("bad-signature", None, request)
            found = RequestSession(self, request, factory, options, cookie_id, None)
        else:
            found = RequestSession(self, request, None, options, None, None)  # outside the path: inert
        bind(request, found)
        return found, cookie_id

    def _store_failed(self, found: RequestSession, exc: StoreError) -> Response | None:
        """ON_STORE_ERROR: a 503 ("raise"), or go on without a session ("anonymous").

        Either way the error is logged, nothing more is stored for this
        request and the client's cookie is left as it is.
        """
        logger.error("The session store failed: %s", exc, exc_info=exc)
        settings = found.factory.settings if found.factory is not None else conf.current()
        found.factory = None  # an inert session: contrib.auth sees an anonymous user
        if settings.on_store_error == "anonymous":
            return None
        return HttpResponse(
            "Service unavailable: the session store cannot be reached.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )

    # -- the response -----------------------------------------------------------------

    def _plan(self, found: RequestSession, response: Response) -> tuple[Session | None, Decision]:
        factory = found.factory
        if factory is None or response.status_code >= 500:
            return None, SKIP
        settings = factory.settings
        session = found.made
        gone = found.unset or found.replacement is not None or (session is not None and session.destroyed)
        if gone:
            # express: unset "destroy" destroys whenever req.session is gone,
            # also after destroy() (a second, harmless destroy).
            if settings.unset != "destroy":
                return None, SKIP
            if session is None and found.record is not None:
                # Deleted before the view looked at it: express loaded it all
                # the same, and destroys it.
                loaded = found.session
                if loaded is not None and loaded.has_id and loaded.id == found.cookie_id:
                    session = loaded  # (a refused record gave a new session: nothing to destroy)
            if session is not None and session.has_id:
                return session, Decision(Action.DESTROY)
            return None, SKIP
        if session is None:
            if found.record is None and not settings.save_uninitialized:
                return None, SKIP  # a new session nobody used: nothing to save, no cookie
            session = found.session
            assert session is not None
        session.finalize()
        is_new = found.cookie_id is None or not session.has_id or found.cookie_id != session.id
        if is_new and not settings.save_uninitialized and session.never_saved() and not session.modified:
            return None, SKIP  # express: neither saved nor sent (and new sessions are not touched)
        # Touch once per request, before the save, so Set-Cookie's Expires
        # equals the stored expiry.
        session.touch()
        cookie = session.cookie
        secure_cookie = bool(cookie.attrs.get("secure"))
        facts = Facts(
            is_new,
            session.modified,
            session.is_saved(),
            session.never_saved(),
            cookie.expires_ms is not None,
            secure_cookie,
            is_secure(found.request, settings.proxy) if secure_cookie else True,
            session.cookie_forced,
            session.meta_changed and session.loaded,
        )
        decision = decide(facts, factory.rules)
        if (
            secure_cookie
            and not facts.secure_request
            and should_set_cookie(facts._replace(secure_request=True), factory.rules)
        ):
            _warn_secure_over_http_once()
        if decision.action is Action.TOUCH and self._touch_not_due(factory, session):
            decision = Decision(Action.NOTHING, decision.set_cookie)
        return session, decision

    @staticmethod
    def _touch_not_due(factory: factories.SessionFactory, session: Session) -> bool:
        """No store touch, or TOUCH_AFTER decided from the expiry read with the session."""
        if not factory.touches:
            return True
        stored, new = session.stored_expires_ms, session.cookie.expires_ms
        return stored is not None and new is not None and factory.store.touch_skipped(stored, new)

    async def _carry_out(
        self,
        found: RequestSession,
        response: Response,
        session: Session | None,
        decision: Decision,
        calls: Calls,
    ) -> Response:
        """The store work the decision asks for, then the headers."""
        assert session is not None
        sid = session.id
        assert sid is not None
        try:
            if decision.action is Action.SAVE:
                await session.write(calls)
                settings = session.factory_settings
                if (
                    settings is not None
                    and settings.logout_everywhere_on_password_change
                    and session.password_changed()
                ):
                    await self._logout_elsewhere(calls, session)
            elif decision.action is Action.TOUCH:
                await calls.touch(sid, session.document())
            else:
                await calls.destroy(sid)
                events.send(signals.session_destroyed, sid, found.request)
        except StoreError as exc:
            return self._store_failed(found, exc) or self._headers(found, response, None, SKIP)
        return self._headers(found, response, session, decision)

    @staticmethod
    async def _logout_elsewhere(calls: Calls, session: Session) -> None:
        """LOGOUT_EVERYWHERE_ON_PASSWORD_CHANGE: end the user's other sessions."""
        user = session.get_raw(AUTH_KEY)
        if isinstance(calls, AsyncCalls):
            sids = [sid async for sid, _ in calls.store.auser_sessions(user)]
        else:
            sids = [sid for sid, _ in calls.store.user_sessions(user)]
        for sid in sids:
            if sid != session.id:
                await calls.destroy(sid)
                events.send(signals.session_destroyed, sid, None)

    def _headers(
        self, found: RequestSession, response: Response, session: Session | None, decision: Decision
    ) -> Response:
        # A merge that found the session destroyed meanwhile sends no cookie.
        if (
            decision.set_cookie
            and session is not None
            and not session.destroyed
            and found.factory is not None
        ):
            settings = found.factory.settings
            if settings.prefixed and not session.cookie.attrs.get("secure"):
                # A __Host-/__Secure- cookie without Secure: browsers would drop it.
                _warn_prefix_once(settings.name)
            else:
                value = signing.cookie_value(session.id or "", settings.keys[0])
                response.cookies[settings.name] = session.cookie.morsel(settings.name, value)
                # This response now belongs to one visitor, even when the view never
                # touched the session (saveUninitialized, rolling): keep Django's
                # cache middleware and shared caches from replaying it to others.
                patch_cache_control(response, private=True)
        if found.accessed:
            patch_vary_headers(response, ("Cookie",))
        return response
