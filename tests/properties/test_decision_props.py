"""The end-of-request decision against a model of express-session's rules.

``decide()`` is checked on every combination of facts against the truth
tables of EXPRESS-SESSION.md 3.3-3.5. Then whole visits: Hypothesis makes
a sequence of requests (each with some cookie and some session operations,
under one combination of RESAVE, SAVE_UNINITIALIZED, ROLLING, UNSET, cookie
lifetime and Secure), sends them through the real middleware on a real
store, and compares with a small model written here: what each request
loads, whether it saves, touches or destroys in the store, whether it sends
Set-Cookie (with which id, with or without Expires), and what the store
holds afterwards. The model is express's rules plus the differences
docs/express-differences.rst documents (a regenerated session saved
explicitly is not saved again, ``set_expiry()`` forces a save and a
Set-Cookie, nothing happens at the end of a 5xx response).
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from hypothesis import event, given
from hypothesis import strategies as st

from django_expsession import signing
from django_expsession.decision import Action, Facts, Options, decide
from django_expsession.middleware import SessionMiddleware
from django_expsession.session import SessionError
from django_expsession.stores import get_store
from tests import spy

from .conftest import PROFILE

# -- the pure decision ------------------------------------------------------------------


@PROFILE
@given(facts=st.builds(Facts, *[st.booleans()] * 9), options=st.builds(Options, *[st.booleans()] * 3))
def test_decide_follows_the_express_truth_tables(facts, options):
    _resave, save_uninitialized, rolling = options  # RESAVE shows in the facts, not here
    # 3.3 shouldSave (a record lacking the lifetime keys must be saved: a Django addition).
    if facts.must_save:
        save = True
    elif not save_uninitialized and facts.never_saved and facts.is_new:
        save = facts.modified
    else:
        save = not facts.saved
    # 3.4: a loaded session that is not saved is touched.
    action = Action.SAVE if save else Action.NOTHING if facts.is_new else Action.TOUCH
    # 3.5 shouldSetCookie, then the secure gate; set_expiry() and renewals force it.
    if facts.cookie_forced:
        wanted = True
    elif facts.is_new:
        wanted = save_uninitialized or facts.modified
    else:
        wanted = rolling or (facts.has_expires and facts.modified)
    sent = wanted and (facts.secure_request or not facts.secure_cookie)
    decision = decide(facts, options)
    assert (decision.action, decision.set_cookie) == (action, sent)


# -- the model ------------------------------------------------------------------------------

KEYS = ["a", "b", "c"]
VALUES = [0, 1, "x", "", None, True, [1], [1, 2], {"k": [0]}]
SECRET = "keyboard cat"


@dataclass
class Stored:
    data: dict[str, Any]
    has_expires: bool
    secure: bool  # the session's own cookie: fixed when it was made


@dataclass
class Config:
    resave: bool
    save_uninitialized: bool
    rolling: bool
    unset: str
    max_age: int | None
    secure: bool
    concurrency: str
    backend: str = "tests.spy.SpyMemoryStore"

    def setting(self) -> dict[str, Any]:
        return {
            "SECRET": SECRET,
            "RESAVE": self.resave,
            "SAVE_UNINITIALIZED": self.save_uninitialized,
            "ROLLING": self.rolling,
            "UNSET": self.unset,
            "COOKIE": {"MAX_AGE": self.max_age, "SECURE": self.secure},
            "CONCURRENCY": self.concurrency,
            "STORE": {"BACKEND": self.backend},
        }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


@dataclass
class Outcome:
    """What one request did, as the model predicts it or as it was observed."""

    gets: int = 0
    sets: int = 0
    touches: int = 0
    cookie: str | None = None  # the id in Set-Cookie (a model label for a new id)
    expires_attribute: bool | None = None
    seen: list[Any] = field(default_factory=list)  # what the view read, in order


class NewId:
    """A model label for an id the middleware generates (its value is learnt afterwards)."""

    count = 0

    def __init__(self) -> None:
        NewId.count += 1
        self.n = NewId.count

    def __repr__(self) -> str:
        return f"<new id {self.n}>"


class Model:
    """express-session's request cycle over a dict store (EXPRESS-SESSION.md 2-4)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: dict[Any, Stored] = {}

    def request(self, cookie_sid: str | None, ops: list[tuple[Any, ...]], status: int) -> Outcome:
        c = self.config
        out = Outcome(gets=1 if cookie_sid is not None else 0)
        loaded = cookie_sid is not None and cookie_sid in self.store
        ident: Any = cookie_sid if loaded else NewId()
        data = copy.deepcopy(self.store[ident].data) if loaded else {}
        has_expires = self.store[ident].has_expires if loaded else c.max_age is not None
        secure = self.store[ident].secure if loaded else c.secure
        has_id = loaded
        original_ident, original = ident, dumps(data)
        # resave off: a loaded session starts as saved.
        saved: tuple[Any, str] | None = (ident, original) if loaded and not c.resave else None
        forced = cookie_forced = False
        gone = False
        inert: dict[str, Any] = {}  # after destroy/unset: writes taken, never persisted
        for op, *args in ops:
            if gone:
                if op == "get":
                    out.seen.append(copy.deepcopy(inert.get(args[0])))
                elif op == "sid":
                    out.seen.append(None)
                elif op == "set":
                    inert[args[0]] = copy.deepcopy(args[1])
                elif op == "pop":
                    inert.pop(args[0], None)
                elif op == "append" and isinstance(inert.get(args[0]), list):
                    inert[args[0]].append(7)
                elif op == "clear":
                    inert.clear()
                continue
            if op == "get":
                out.seen.append(copy.deepcopy(data.get(args[0])))
            elif op == "sid":
                has_id = True
                out.seen.append(ident)
            elif op == "set":
                data[args[0]] = copy.deepcopy(args[1])
            elif op == "pop":
                data.pop(args[0], None)
            elif op == "append":
                if isinstance(data.get(args[0]), list):
                    data[args[0]].append(7)
            elif op == "clear":
                data.clear()
            elif op == "modified":
                forced = True
            elif op == "touch":
                pass  # in memory only: express's touch() resets cookie.maxAge
            elif op == "set_expiry":
                forced = cookie_forced = True
                has_expires = {"none": c.max_age is not None, "zero": False}.get(args[0], True)
            elif op == "save":
                has_id = True
                self.store[ident] = Stored(copy.deepcopy(data), has_expires, secure)
                saved, forced = (ident, dumps(data)), False
                out.sets += 1
            elif op == "reload":
                if has_id:
                    out.gets += 1
                    if ident in self.store:
                        data = copy.deepcopy(self.store[ident].data)
                        has_expires = self.store[ident].has_expires
                        secure = self.store[ident].secure
            elif op in ("regenerate", "flush", "cycle_key"):
                self.store.pop(ident, None)
                ident, has_id = NewId(), True
                if op != "cycle_key":
                    data, has_expires, secure = {}, c.max_age is not None, c.secure
            elif op == "destroy":
                self.store.pop(ident, None)
                gone = True
            elif op == "unset":
                gone = True
        if status >= 500:
            return out  # the end-of-request step is skipped entirely
        if gone:
            # express: unset "destroy" destroys whenever req.session is gone.
            if c.unset == "destroy":
                self.store.pop(ident, None)
            return out
        is_new = cookie_sid is None or ident != cookie_sid
        modified = forced or ident != original_ident or dumps(data) != original
        is_saved = not forced and saved is not None and saved == (ident, dumps(data))
        save = modified if not c.save_uninitialized and saved is None and is_new else not is_saved
        if save:
            self.store[ident] = Stored(copy.deepcopy(data), has_expires, secure)
            out.sets += 1
        elif not is_new:
            out.touches += 1
        if cookie_forced:
            wanted = True
        elif is_new:
            wanted = c.save_uninitialized or modified
        else:
            wanted = c.rolling or (has_expires and modified)
        if wanted and not secure:  # every request is plain HTTP: the secure gate
            out.cookie, out.expires_attribute = ident, has_expires
        return out

    def learn(self, label: Any, real: str) -> None:
        """The middleware generated ``real`` where the model said ``label``."""
        if label in self.store:
            self.store[real] = self.store.pop(label)


# -- driving the real middleware -------------------------------------------------------------

_expiries = {
    "none": None,
    "zero": 0,
    "seconds": 30,
    "delta": timedelta(minutes=5),
    "date": datetime(2099, 1, 1, tzinfo=UTC),
}


def _run(request: Any, ops: list[tuple[Any, ...]], seen: list[Any]) -> None:
    for op, *args in ops:
        if op == "unset":
            del request.session  # without a look at it first
            continue
        session = request.session  # live, or inert after destroy/unset
        if op == "get":
            seen.append(copy.deepcopy(session.get(args[0])))
        elif op == "sid":
            seen.append(session.session_key)
        elif op == "set":
            session[args[0]] = copy.deepcopy(args[1])
        elif op == "pop":
            session.pop(args[0], None)
        elif op == "append":
            value = session.get(args[0])
            if isinstance(value, list):
                value.append(7)  # in place: only the canonical JSON can tell
        elif op == "clear":
            session.clear()
        elif op == "modified":
            session.modified = True
        elif op == "touch":
            session.touch()
        elif op == "set_expiry":
            session.set_expiry(_expiries[args[0]])
        elif op == "save":
            session.save()
        elif op == "reload":
            with contextlib.suppress(SessionError):  # "failed to load session": the view carries on
                session.reload()
        elif op == "regenerate":
            session.regenerate()
        elif op == "flush":
            session.flush()
        elif op == "cycle_key":
            session.cycle_key()
        elif op == "destroy":
            session.destroy()


operations = st.one_of(
    st.tuples(st.sampled_from(["get", "pop", "append"]), st.sampled_from(KEYS)),
    st.tuples(st.just("set"), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just("set_expiry"), st.sampled_from(list(_expiries))),
    st.tuples(
        st.sampled_from(
            [
                "sid",
                "clear",
                "modified",
                "touch",
                "save",
                "reload",
                "regenerate",
                "flush",
                "cycle_key",
                "destroy",
                "unset",
            ]
        )
    ),
)
configs = st.builds(
    Config,
    resave=st.booleans(),
    save_uninitialized=st.booleans(),
    rolling=st.booleans(),
    unset=st.sampled_from(["keep", "destroy"]),
    max_age=st.sampled_from([60, None]),
    secure=st.booleans(),
    concurrency=st.sampled_from(["overwrite", "merge"]),
)
# Which cookie a request carries: the browser's own, none, a forged one, an id
# the store never had, or one the browser held before.
visits = st.lists(
    st.tuples(
        st.sampled_from(["browser", "browser", "browser", "none", "forged", "unknown", "old"]),
        st.lists(operations, max_size=5),
        st.sampled_from([200] * 9 + [500]),
    ),
    min_size=1,
    max_size=6,
)


def _set_cookie_id(response: Any) -> tuple[str | None, bool | None]:
    morsel = response.cookies.get("connect.sid")
    if morsel is None:
        return None, None
    line = morsel.OutputString()
    value = unquote(line.split(";", 1)[0].split("=", 1)[1])
    assert value.startswith("s:"), line
    sid = signing.unsign(value[2:], [SECRET])
    assert sid is not None, line
    return sid, "; Expires=" in line


@pytest.mark.parametrize("seed_store", [False, True], ids=["empty-store", "seeded-store"])
def test_any_visit_matches_the_model_of_express(seed_store):
    """Each request's store writes, touches, reads, Set-Cookie and the store afterwards."""
    check_visits(seed_store, "tests.spy.SpyMemoryStore")


@pytest.mark.django_db
def test_any_visit_matches_the_model_of_express_on_sqlite():
    """The same on the database store (SQLite): the rules do not depend on the store."""
    check_visits(True, "tests.spy.SpyDatabaseStore")


def check_visits(seed_store: bool, backend: str) -> None:
    factory = RequestFactory()
    ran = [0]

    @PROFILE
    @given(config=configs, visit=visits)
    def check(config, visit):
        config.backend = backend
        ran[0] += 1
        if ran[0] % 10_000 == 0:
            print(f"{ran[0]} examples so far", flush=True)  # the long run's progress
        with override_settings(EXPSESSION=config.setting()):
            store = get_store()
            assert type(store).__name__ == backend.rsplit(".", 1)[1]
            store.clear()
            model = Model(config)
            seen: list[Any] = []
            ops_holder: list[list[tuple[Any, ...]]] = [[]]
            status_holder = [200]

            def view(request):
                _run(request, ops_holder[0], seen)
                return HttpResponse("", status=status_holder[0])

            middleware = SessionMiddleware(view)
            browser: str | None = None
            issued: list[str] = []
            if seed_store:
                # A session another request left behind, which the "old" cookie points to.
                store.set("seeded0000000000", {"cookie": {"originalMaxAge": None, "expires": None}, "a": 1})
                model.store["seeded0000000000"] = Stored({"a": 1}, False, False)
                issued.append("seeded0000000000")
            for number, (kind, ops, status) in enumerate(visit):
                sid = {
                    "browser": browser,
                    "none": None,
                    "forged": None,
                    "unknown": "neverissued000000",
                    "old": issued[0] if issued else None,
                }[kind]
                header = {}
                if sid is not None:
                    header = {"HTTP_COOKIE": "connect.sid=" + signing.cookie_value(sid, SECRET)}
                elif kind == "forged":
                    header = {
                        "HTTP_COOKIE": "connect.sid=" + signing.cookie_value("x" * 32, "not the secret")
                    }
                before = set(dict(store.all()))
                expected = model.request(sid, ops, status)
                ops_holder[0], status_holder[0] = ops, status
                seen.clear()
                spy.calls.clear()
                response = middleware(factory.get("/", **header))
                sent, expires_attribute = _set_cookie_id(response)
                now = {key: value for key, value in store.all()}
                # The one id this request may have added to the store (an old one is destroyed).
                added = set(now) - before
                assert len(added) <= 1, (number, added)
                label = expected.cookie
                if isinstance(label, NewId):
                    assert sent is not None and sent not in before and sent != sid, (number, sent)
                    model.learn(label, sent)
                    expected.cookie = sent
                for label in [key for key in model.store if isinstance(key, NewId)]:
                    assert len(added) == 1, (number, label, added)
                    model.learn(label, next(iter(added)))
                # The view saw the ids and values the model says.
                for got, want in zip(seen, expected.seen, strict=True):
                    if isinstance(want, NewId):
                        assert isinstance(got, str) and got not in before
                    else:
                        assert got == want, (number, seen, expected.seen)
                observed = (spy.calls["get"], spy.calls["set"], spy.calls["touch"], sent, expires_attribute)
                assert observed == (
                    expected.gets,
                    expected.sets,
                    expected.touches,
                    expected.cookie,
                    expected.expires_attribute,
                ), (number, kind, ops, status, config)
                stored = {
                    key: dumps({k: v for k, v in value.items() if k != "cookie"})
                    for key, value in now.items()
                }
                assert stored == {key: dumps(value.data) for key, value in model.store.items()}, (number, ops)
                for key, value in now.items():
                    assert (value["cookie"]["expires"] is not None) == model.store[key].has_expires, key
                    assert bool(value["cookie"].get("secure")) == model.store[key].secure, key
                event(f"set-cookie: {sent is not None}; store writes: {expected.sets}")
                if sent is not None:
                    browser = sent
                    issued.append(sent)

    check()
    print(f"\nexamples run: {ran[0]}")
