"""Load and faults, measured: the demo site under gunicorn, every session counter exact.

    python benchmarks/load.py [--store postgres|mariadb|redis|cache-redis ...]
                              [--clients 8] [--requests 500] [--faults] [--smoke]

For each store, private servers are started in a temporary directory on
free ports (PostgreSQL, MariaDB or Redis; the machine's own services are
never used), the demo site (``testproject``, settings ``loadsettings.py``)
runs under gunicorn with 4 sync workers, and ``--clients`` threads, each
with its own session (its own cookie), request the demo's page-view
counter until each has had ``--requests`` responses that stored an
increment. Then every counter is read back through the site
(``/load/peek``) and straight from the server, and compared with what the
client saw.

``--faults`` adds, per store, two runs in which the store's server is
killed (SIGKILL, the whole process group) when half the increments are
done, and restarted on the same port and data directory once every client
has met the outage: one with ``ON_STORE_ERROR = "raise"`` (the outage
answers 503), one with ``"anonymous"`` (the outage answers 200 with an
inert session and no cookie). A client that met the outage waits 20 ms
before its next request. ``--smoke`` is the CI run: every store, the
fault runs too, 2 clients x 20 increments, PostgreSQL without fsync (which
a killed server does not need: the kernel keeps what it wrote).

The checks are exact counts, never timings; the exit status is non-zero
when one fails. What "exact" means in each run is in docs/reliability.rst.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # this checkout's django_expsession, and loadservers

from loadservers import SERVERS, Redis, Server, free_port  # noqa: E402

from django_expsession import document  # noqa: E402

STORES = ("postgres", "mariadb", "redis", "cache-redis")
SERVER_OF = {"postgres": "postgres", "mariadb": "mariadb", "redis": "redis", "cache-redis": "redis"}
# Where each Redis-backed store keeps a session (the per-user index lives elsewhere).
REDIS_KEYS = {"redis": "sess:", "cache-redis": ":1:expsession:"}
# Redis runs without persistence here: a restart forgets every session.
FORGETS_ON_RESTART = frozenset({"redis", "cache-redis"})
COOKIE = "connect.sid"
COUNT = re.compile(rb"you viewed this page (\d+) time")
WORKERS = 4
OUTAGE_PAUSE = 0.02  # a client's pause after an outage response
STORE_FAILED = "The session store failed"
MAX_PROBLEMS = 20  # a client stops after this many


# -- HTTP ---------------------------------------------------------------------------


def get(port: int, path: str, cookie: str | None) -> tuple[int, str | None, bytes]:
    """One request on a new connection (gunicorn's sync workers close each one)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
        response = connection.getresponse()
        body = response.read()
        set_cookie = None
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            if name == COOKIE:
                set_cookie = rest.split(";", 1)[0]
        return response.status, set_cookie, body
    finally:
        connection.close()


def sid_of(cookie: str) -> str:
    value = unquote(cookie)
    if not value.startswith("s:") or "." not in value:
        raise ValueError(f"not a signed session cookie: {cookie!r}")
    return value[2:].rsplit(".", 1)[0]


# -- one run ------------------------------------------------------------------------


@dataclass
class Run:
    """What every client of one run shares: the site, the mode, the fault's progress."""

    port: int
    requests: int
    mode: str  # ON_STORE_ERROR
    fault: bool
    forgets: bool  # the restarted store has lost every session
    killed_at: float | None = None
    killed: threading.Event = field(default_factory=threading.Event)
    restart_begun: bool = False


@dataclass
class Client:
    """A visitor with its own cookie jar, counting its own page views."""

    number: int
    run: Run
    cookie: str | None = None
    sid: str | None = None
    count: int = 0  # the counter its session should hold
    saved: int = 0  # 200 responses that stored an increment (all its sessions)
    saved_in_session: int = 0
    sent: int = 0
    anonymous: int = 0
    unavailable: int = 0
    ambiguous: int = 0  # increments the store kept although the response was an outage response
    lost_sids: list[str] = field(default_factory=list)
    first_outage: float | None = None
    recovered: float | None = None  # the first stored increment after the outage
    outage_since_saved: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/c{self.number}"

    def go(self) -> None:
        while self.saved < self.run.requests and len(self.problems) < MAX_PROBLEMS:
            if self.run.fault and self.saved == self.run.requests * 3 // 4:
                # A client far ahead of the others meets the outage too.
                self.run.killed.wait(timeout=120)
            try:
                self.one()
            except (OSError, http.client.HTTPException) as exc:
                self.problem(f"the site failed: {exc!r}")

    def problem(self, text: str) -> None:
        self.problems.append(f"client {self.number}, request {self.sent}: {text}")

    def one(self) -> None:
        status, set_cookie, body = get(self.run.port, self.path, self.cookie)
        now = time.monotonic()
        self.sent += 1
        found = COUNT.search(body)
        count = int(found.group(1)) if found else None
        if status == 200 and set_cookie is not None and count is not None:
            self.stored(sid_of(set_cookie), set_cookie, count, now)
        elif status == 200 and set_cookie is None and self.run.fault and self.run.mode == "anonymous":
            self.anonymous += 1
            # The store failed on load (an empty session: 1) or on save (the
            # view counted on from the stored counter).
            if count not in (1, self.count + 1):
                self.problem(f"an anonymous response counted {count}, not 1 or {self.count + 1}")
            self.outage(now)
        elif status == 503 and self.run.fault and self.run.mode == "raise":
            self.unavailable += 1
            self.outage(now)
        else:
            self.problem(f"HTTP {status}, Set-Cookie {'yes' if set_cookie else 'no'}, body {body[:120]!r}")

    def stored(self, sid: str, cookie: str, count: int, now: float) -> None:
        if self.sid is not None and sid != self.sid:
            if self.run.forgets and self.run.restart_begun and not self.lost_sids:
                self.lost_sids.append(self.sid)
                self.count = self.saved_in_session = 0
            else:
                self.problem(f"the session changed from {self.sid[:8]}... to {sid[:8]}...")
        expected = self.count + 1
        if count != expected:
            # The one outage response whose save the server had made durable
            # before it died (the reply was lost with it).
            if count == expected + 1 and self.outage_since_saved and not self.ambiguous:
                self.ambiguous += 1
            else:
                self.problem(f"the counter went from {self.count} to {count}")
        self.count, self.cookie, self.sid = count, cookie, sid
        self.saved += 1
        self.saved_in_session += 1
        if self.outage_since_saved:
            self.outage_since_saved = False
            self.recovered = now

    def outage(self, now: float) -> None:
        if self.run.killed_at is None or now < self.run.killed_at:
            self.problem("an outage response before the store was killed")
        if self.recovered is not None:
            self.problem("an outage response after the client had recovered")
        if self.first_outage is None:
            self.first_outage = now
        self.outage_since_saved = True
        time.sleep(OUTAGE_PAUSE)


@dataclass
class Result:
    store: str
    phase: str
    clients: list[Client]
    elapsed: float
    problems: list[str]
    logged_failures: int = 0
    fault: dict[str, float] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(getattr(client, name) for client in self.clients)


# -- the site -----------------------------------------------------------------------


class Site:
    """The demo under gunicorn (4 sync workers) on one store."""

    def __init__(self, store: str, server: Server, mode: str, directory: Path) -> None:
        self.store, self.server, self.mode = store, server, mode
        self.port = free_port()
        self.log_path = directory / f"gunicorn-{store}-{mode}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "loadsettings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]),
            "LOAD_STORE": store,
            "LOAD_PORT": str(server.port),
            "LOAD_SQLITE": str(directory / "site.sqlite3"),
            "LOAD_ON_STORE_ERROR": mode,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
            env=self.env,
            cwd=ROOT,
            check=True,
        )

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "testproject.wsgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        begun = time.monotonic()
        while True:
            try:
                if get(self.port, "/load/peek", None)[0] == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() - begun > 60:
                raise SystemExit(f"gunicorn did not start; see {self.log_path}")
            time.sleep(0.05)
        for _ in range(4 * WORKERS):  # every worker imports its views before the clock starts
            get(self.port, "/load/peek", None)

    def workers(self) -> set[int]:
        assert self.process is not None
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.add(int(stat.parent.name))
        return found

    def logged_failures(self) -> int:
        return self.log_path.read_text(errors="replace").count(STORE_FAILED)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def run_phase(site: Site, clients_count: int, requests: int, fault: bool, min_outage: float) -> Result:
    phase = "normal" if not fault else f"fault, {site.mode}"
    run = Run(site.port, requests, site.mode, fault, fault and site.store in FORGETS_ON_RESTART)
    clients = [Client(number, run) for number in range(1, clients_count + 1)]
    threads = [threading.Thread(target=client.go, daemon=True) for client in clients]
    failures_before = site.logged_failures()
    workers = site.workers()
    begun = time.monotonic()
    for thread in threads:
        thread.start()
    timing: dict[str, float] = {}
    if fault:
        timing = crash_and_restart(
            site.server, run, clients, threads, clients_count * requests // 2, min_outage
        )
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - begun
    result = Result(site.store, phase, clients, elapsed, [p for c in clients for p in c.problems])
    result.logged_failures = site.logged_failures() - failures_before
    if fault:
        # Recovery counts from the harness's first successful probe of the
        # restarted server (polled every 5 ms), so a client may be back a few
        # milliseconds before it: shown as 0.
        recovered = [c.recovered for c in clients if c.recovered is not None]
        if recovered:
            timing["first"] = max(0.0, min(recovered) - timing["ready"])
            timing["last"] = max(0.0, max(recovered) - timing["ready"])
            timing["outage"] = min(recovered) - timing["killed"]
        result.fault = timing
    verify(site, result, workers)
    return result


def crash_and_restart(
    server: Server,
    run: Run,
    clients: list[Client],
    threads: list[threading.Thread],
    at: int,
    min_outage: float,
) -> dict[str, float]:
    while sum(client.saved for client in clients) < at and any(thread.is_alive() for thread in threads):
        time.sleep(0.002)
    run.killed_at = time.monotonic()
    server.crash()
    run.killed.set()
    # Every client still running meets the outage before the server comes back.
    while time.monotonic() - run.killed_at < 30 and (
        time.monotonic() - run.killed_at < min_outage
        or any(t.is_alive() and c.first_outage is None for c, t in zip(clients, threads, strict=True))
    ):
        time.sleep(0.005)
    run.restart_begun = True
    restarted = time.monotonic()
    server.start()
    ready = time.monotonic()
    return {
        "killed": run.killed_at,
        "ready": ready,
        "down": restarted - run.killed_at,
        "restart": ready - restarted,
        "killed_after": float(sum(client.saved for client in clients)),
    }


# -- the checks ---------------------------------------------------------------------


def verify(site: Site, result: Result, workers_before: set[int]) -> None:
    problems = result.problems
    clients = result.clients
    if site.workers() != workers_before or len(workers_before) != WORKERS:
        problems.append(f"gunicorn's workers changed: {sorted(workers_before)} -> {sorted(site.workers())}")
    for client in clients:
        if client.saved != result.clients[0].run.requests:
            problems.append(f"client {client.number} stopped after {client.saved} stored increments")
        # Each counter equals the client's stored increments in its current
        # session (plus the one outage response the server may have kept).
        if client.count != client.saved_in_session + client.ambiguous:
            problems.append(
                f"client {client.number}: counter {client.count}, but {client.saved_in_session} "
                f"stored increments and {client.ambiguous} ambiguous"
            )
        # Through the site: the read-only view sees the same counter.
        status, _, body = get(site.port, "/load/peek", client.cookie)
        seen = json.loads(body).get("views") if status == 200 else None
        if seen != {client.path: client.count}:
            problems.append(
                f"client {client.number}: the site reads {seen} (HTTP {status}), not {client.count}"
            )
    # Straight from the server: exactly the clients' sessions, each sane and exact.
    stored = site.server.documents()
    wanted = {client.sid: client for client in clients}
    if set(stored) != set(wanted):
        extra, missing = len(set(stored) - set(wanted)), len(set(wanted) - set(stored))
        problems.append(f"the store holds {len(stored)} sessions: {extra} unexpected, {missing} missing")
    for sid, text in stored.items():
        owner = wanted.get(sid)
        if owner is not None:
            problems.extend(f"client {owner.number}: {p}" for p in check_document(text, owner))
    lost = [sid for client in clients for sid in client.lost_sids]
    if any(sid in stored for sid in lost):
        problems.append("a session the restarted store had lost is stored again")
    outage = result.total("unavailable") + result.total("anonymous")
    if result.logged_failures != outage:
        problems.append(f"{result.logged_failures} store failures logged for {outage} outage responses")


def check_document(text: str, client: Client) -> list[str]:
    """The stored text as JSON (strict: no NaN), express's shape, and the exact counter."""
    try:
        value = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        document.check(document.parse(text))
    except (ValueError, document.InvalidDocumentError) as exc:
        return [f"the stored document is corrupt ({exc}): {text[:120]!r}"]
    problems = []
    if set(value) != {"cookie", "views"}:
        problems.append(f"the stored document has the keys {sorted(value)}")
    if value.get("views") != {client.path: client.count}:
        problems.append(f"the store holds {value.get('views')}, not {client.count}")
    cookie = value.get("cookie", {})
    if (cookie.get("originalMaxAge"), cookie.get("path"), cookie.get("httpOnly")) != (3_600_000, "/", True):
        problems.append(f"the stored cookie is {cookie}")
    return problems


# -- the report ---------------------------------------------------------------------

HEADER = (
    f"{'store':<12} {'run':<16} {'clients':>7} {'requests':>8} {'200 kept':>8} {'200 anon':>8} "
    f"{'503':>5} {'other':>5} {'seconds':>7} {'req/s':>6}  checks"
)


def line(result: Result) -> str:
    sent, kept = result.total("sent"), result.total("saved")
    anonymous, unavailable = result.total("anonymous"), result.total("unavailable")
    other = sent - kept - anonymous - unavailable
    verdict = "exact" if not result.problems else f"FAILED ({len(result.problems)})"
    return (
        f"{result.store:<12} {result.phase:<16} {len(result.clients):>7} {sent:>8} {kept:>8} {anonymous:>8} "
        f"{unavailable:>5} {other:>5} {result.elapsed:>7.1f} {sent / result.elapsed:>6.0f}  {verdict}"
    )


def fault_line(result: Result) -> str:
    timing = result.fault
    ambiguous = result.total("ambiguous")
    lost = sum(len(client.lost_sids) for client in result.clients)
    recovery = (
        f"first request with its session {timing['first']:.2f} s after the server answered, "
        f"every client {timing['last']:.2f} s; outage seen by the site {timing['outage']:.2f} s"
        if "first" in timing
        else "no client recovered"
    )
    return (
        f"{'':<12} killed after {timing['killed_after']:.0f} increments, down {timing['down']:.2f} s, "
        f"restart {timing['restart']:.2f} s; {recovery}; {result.logged_failures} failures logged; "
        f"sessions lost {lost}; kept although answered as an outage {ambiguous}"
    )


def run_store(store: str, args: argparse.Namespace, directory: Path) -> list[Result]:
    server_class = SERVERS[SERVER_OF[store]]
    server: Server = (
        Redis(directory, REDIS_KEYS[store] + "*", REDIS_KEYS[store])
        if server_class is Redis
        else server_class(directory)
    )
    server.durable = not args.smoke
    results = []
    sites: list[Site] = []
    try:
        server.initialise()
        server.start()
        server.prepare()
        modes = ["raise", "anonymous"] if args.faults else ["raise"]
        for mode in modes:
            site = Site(store, server, mode, directory)
            sites.append(site)
            if store in ("postgres", "mariadb") and mode == "raise":
                site.migrate()
            site.start()
            phases = [False, True] if mode == "raise" else [True]
            for fault in phases if args.faults else [False]:
                result = run_phase(site, args.clients, args.requests, fault, args.min_outage)
                results.append(result)
                print(line(result), flush=True)
                if fault:
                    print(fault_line(result), flush=True)
                server.empty()
            site.stop()
    finally:
        for site in sites:
            site.stop()
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--store", action="append", choices=STORES, help="a store to run (repeatable; default all)"
    )
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent clients, one session each (default 8)"
    )
    parser.add_argument(
        "--requests", type=int, default=500, help="stored increments per client and run (default 500)"
    )
    parser.add_argument("--faults", action="store_true", help="also kill and restart each store mid-run")
    parser.add_argument(
        "--min-outage", type=float, default=1.0, help="seconds the server stays down at least (default 1)"
    )
    parser.add_argument("--smoke", action="store_true", help="CI: every store, with faults, 2 clients x 20")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.requests, args.faults, args.min_outage = 2, 20, True, 0.3
    if args.clients < 1 or args.requests < 2:
        parser.error("--clients should be >= 1 and --requests >= 2.")
    stores = args.store or list(STORES)
    directory = Path(tempfile.mkdtemp(prefix="expsession-load-"))
    os.chmod(directory, 0o755)  # PostgreSQL's own user reaches its directory inside
    print(f"gunicorn: {WORKERS} sync workers; {args.clients} clients x {args.requests} stored increments.")
    print(f"Servers, data and logs in {directory}{'' if args.keep else ' (removed at the end)'}.")
    print(HEADER)
    print("-" * len(HEADER))
    results: list[Result] = []
    begun = time.monotonic()
    try:
        for store in stores:
            results.extend(run_store(store, args, directory))
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(directory)], check=False)
    problems = [f"{r.store}, {r.phase}: {p}" for r in results for p in r.problems]
    for problem in problems[:50]:
        print("FAILED", problem)
    verdict = "FAILED" if problems else "all exact"
    print(f"{len(results)} runs in {time.monotonic() - begun:.0f} s: {verdict}.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
