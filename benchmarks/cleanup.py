"""Benchmark: ``clearsessions`` against Django's single DELETE, with a writer running beside it.

Run from the repository root, in the project's virtualenv::

    python benchmarks/cleanup.py                      # every database that answers
    python benchmarks/cleanup.py --database postgres  # one of sqlite, postgres, mariadb
    python benchmarks/cleanup.py --smoke              # tiny tables, no timing targets (CI)

For each database the script loads one table of expired and live sessions
(1,000,000 + 100,000 rows on PostgreSQL and MariaDB, 200,000 + 20,000 on
SQLite; ``--expired``/``--live`` change that) into a template, then, for
each variant, copies the template, starts a writer process, and removes the
expired rows in another process:

``django``
    the statement Django's own ``clearsessions`` runs on its database
    backend: one ``QuerySet.delete()`` of every row whose expiry has passed,
    on the same rows of the same table;
``expsession``
    ``call_command("clearsessions")`` with the DatabaseStore.

The writer does what live requests do: on PostgreSQL and MariaDB it updates
the expiry of random live rows (a touch), on SQLite it alternately inserts a
new session and updates a live one, each statement in autocommit with
Django's default settings, about 200 a second; it records how long each
statement took and whether it failed.

Each variant runs ``--rounds`` times (3), alternating which goes first; the
report gives each variant's median time and the writer's worst wait over
all its rounds. The targets (checked unless ``--smoke``): on PostgreSQL and
MariaDB, expsession's median within 1.5x Django's, peak RSS of the cleanup
process under 100 MB, and no writer statement waiting 100 ms or more; on
SQLite, no writer failure and no writer statement waiting 100 ms or more.
The exit code is 1 when a target is missed or a run removed the wrong rows.

PostgreSQL and MariaDB are reached as the test-suite reaches them
(``POSTGRES_*`` and ``MARIADB_*`` variables, local defaults); the script
creates and drops the databases ``<db-name>`` and ``<db-name>_template``
(``--db-name``, default ``bench_expsession_cleanup``). ``--keep`` keeps the
loaded template for the next run (loading MariaDB takes minutes);
``--only django|expsession`` runs one variant.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's django_expsession, not an installed one

POSTGRES = {
    "HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "PORT": int(os.environ.get("POSTGRES_PORT", "5432")),
    "USER": os.environ.get("POSTGRES_USER", "postgres"),
    "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
}
MARIADB = {
    "HOST": os.environ.get("MARIADB_HOST", "127.0.0.1"),
    "PORT": int(os.environ.get("MARIADB_PORT", "3306")),
    "USER": os.environ.get("MARIADB_USER", "root"),
    "PASSWORD": os.environ.get("MARIADB_PASSWORD", ""),
}
SIZES = {"postgres": (1_000_000, 100_000), "mariadb": (1_000_000, 100_000), "sqlite": (200_000, 20_000)}
SMOKE_SIZES = (2_000, 200)
MAX_RATIO, MAX_RSS_MB, MAX_WAIT_MS = 1.5, 100, 100
WRITER_PAUSE = 0.005
VARIANTS = ("django", "expsession")
KEEP_DIR = Path(tempfile.gettempdir())  # where --keep leaves the SQLite template


# -- one process per role: load, writer, cleanup -----------------------------------------


def database_settings(kind: str, name: str) -> dict[str, Any]:
    if kind == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if kind == "postgres":
        return {"ENGINE": "django.db.backends.postgresql", "NAME": name, **POSTGRES}
    return {"ENGINE": "django.db.backends.mysql", "NAME": name, **MARIADB, "OPTIONS": {"charset": "utf8mb4"}}


def setup_django(kind: str, name: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-key-not-for-production-use-0123456789",
        INSTALLED_APPS=["django_expsession"],
        DATABASES={"default": database_settings(kind, name)},
        USE_TZ=True,
        EXPSESSION={
            "SECRET": "benchmark",
            "RESAVE": False,
            "SAVE_UNINITIALIZED": False,
            "STORE": {"BACKEND": "django_expsession.stores.db.DatabaseStore"},
        },
        LOGGING_CONFIG=None,
    )
    django.setup()


def document(rng: random.Random, expires: datetime, user: int | None) -> str:
    cookie = {
        "originalMaxAge": 1_209_600_000,
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%S.") + f"{expires.microsecond // 1000:03d}Z",
        "secure": False,
        "httpOnly": True,
        "path": "/",
        "sameSite": "lax",
    }
    data: dict[str, Any] = {"cookie": cookie, "views": rng.randrange(1, 100)}
    if user is not None:
        data.update(
            _auth_user_id=str(user),
            _auth_user_backend="django.contrib.auth.backends.ModelBackend",
            _auth_user_hash=f"{rng.getrandbits(256):064x}",
        )
    return json.dumps(data, separators=(",", ":"))


def rows(expired: int, live: int, now: datetime) -> list[tuple[Any, ...]]:
    """The same rows every time (seeded), in an order unrelated to their expiry."""
    rng = random.Random(20_260_301)
    made = []
    for n in range(expired + live):
        if n < expired:
            expires = now - timedelta(minutes=1) - timedelta(seconds=rng.random() * 14 * 86400)
        else:
            expires = now + timedelta(hours=1) + timedelta(seconds=rng.random() * 14 * 86400)
        user = rng.randrange(50_000) if rng.random() < 0.5 else None
        sid = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k=32))
        made.append(
            (sid, document(rng, expires, user), expires, None if user is None else str(user), now, now)
        )
    rng.shuffle(made)
    return made


def role_load(kind: str, name: str, expired: int, live: int) -> None:
    setup_django(kind, name)
    from django.core.management import call_command
    from django.db import connection, transaction

    from django_expsession.models import Session

    call_command("migrate", "django_expsession", verbosity=0)
    made = rows(expired, live, datetime.now(UTC))
    columns = [
        Session._meta.get_field(f).column for f in ("sid", "data", "expires", "user_id", "created", "updated")
    ]
    table = Session._meta.db_table
    if kind == "postgres":
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in made:
                    copy.write_row(row)
            cursor.execute(f"VACUUM ANALYZE {table}")
        return
    if kind == "mariadb":
        made.sort()  # primary-key order: InnoDB loads that several times faster
    adapt = connection.ops.adapt_datetimefield_value
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(made), 5000):
            chunk = [
                (s, d, adapt(e), u, adapt(c), adapt(up)) for s, d, e, u, c, up in made[start : start + 5000]
            ]
            with transaction.atomic():  # one commit per chunk, not per row
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", chunk)
        if kind == "mariadb":
            cursor.execute(f"ANALYZE TABLE {table}")


def role_writer(kind: str, name: str) -> None:
    """Write like live requests until SIGTERM; print the statements' timings."""
    setup_django(kind, name)
    from django.db import Error
    from django.utils import timezone

    from django_expsession.models import Session

    stop = False

    def stopping(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, stopping)
    now = timezone.now()
    live = list(Session.objects.filter(expires__gt=now).values_list("sid", flat=True)[:20_000])
    rng = random.Random(7)
    waits: list[float] = []
    failures = 0
    print("ready", flush=True)
    n = 0
    while not stop:
        n += 1
        started = time.perf_counter()
        try:
            if kind == "sqlite" and n % 2:
                expires = timezone.now() + timedelta(hours=1)
                Session.objects.create(sid=f"writer-{n:08d}", data="{}", expires=expires)
            else:
                Session.objects.filter(sid=rng.choice(live)).update(
                    expires=timezone.now() + timedelta(hours=2), updated=timezone.now()
                )
        except Error:
            failures += 1
        waits.append(time.perf_counter() - started)
        time.sleep(WRITER_PAUSE)
    waits.sort()
    print(
        json.dumps(
            {
                "writes": len(waits),
                "failures": failures,
                "max_ms": 1000 * waits[-1] if waits else 0.0,
                "p99_ms": 1000 * waits[int(0.99 * (len(waits) - 1))] if waits else 0.0,
                "median_ms": 1000 * statistics.median(waits) if waits else 0.0,
            }
        ),
        flush=True,
    )


def role_cleanup(kind: str, name: str, variant: str) -> None:
    setup_django(kind, name)
    import io

    from django.core.management import call_command
    from django.db import Error
    from django.utils import timezone

    from django_expsession.models import Session

    before = Session.objects.filter(expires__lte=timezone.now()).count()
    error = None
    started = time.perf_counter()
    try:
        if variant == "django":
            Session.objects.filter(expires__lte=timezone.now()).delete()
        else:
            call_command("clearsessions", stderr=io.StringIO())
    except Error as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    after = Session.objects.filter(expires__lte=timezone.now()).count()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": seconds, "deleted": before - after, "left": after, "rss_mb": rss_mb, "error": error}
        )
    )


# -- the parent: databases, copies, runs, report ------------------------------------------


class Target:
    """Create, copy and drop one database kind's template and working copy."""

    def __init__(self, kind: str, name: str, workdir: Path) -> None:
        self.kind, self.name, self.workdir = kind, name, workdir
        self.template = f"{name}_template"

    def working_name(self) -> str:
        return str(self.workdir / f"{self.name}.sqlite3") if self.kind == "sqlite" else self.name

    def template_name(self) -> str:
        return str(self.workdir / f"{self.template}.sqlite3") if self.kind == "sqlite" else self.template

    def _server(self, *statements: str) -> list[Any]:
        """Run statements on the server (not in a database); the last one's rows."""
        found: list[Any] = []
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(
                host=POSTGRES["HOST"],
                port=POSTGRES["PORT"],
                user=POSTGRES["USER"],
                password=POSTGRES["PASSWORD"],
                dbname="postgres",
                autocommit=True,
            ) as connection:
                for statement in statements:
                    cursor = connection.execute(statement)  # type: ignore[arg-type]
                found = cursor.fetchall() if cursor.description else []
        else:
            import MySQLdb

            connection = MySQLdb.connect(
                host=MARIADB["HOST"], port=MARIADB["PORT"], user=MARIADB["USER"], password=MARIADB["PASSWORD"]
            )
            try:
                cursor = connection.cursor()
                for statement in statements:
                    cursor.execute(statement)
                found = list(cursor.fetchall() or [])
            finally:
                connection.close()
        return found

    def create_template(self) -> None:
        if self.kind == "postgres":
            self._server(f'DROP DATABASE IF EXISTS "{self.template}"', f'CREATE DATABASE "{self.template}"')
        elif self.kind == "mariadb":
            self._server(
                f"DROP DATABASE IF EXISTS `{self.template}`",
                f"CREATE DATABASE `{self.template}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            )

    def copy(self) -> None:
        if self.kind == "sqlite":
            shutil.copyfile(self.template_name(), self.working_name())
        elif self.kind == "postgres":
            self._server(
                f'DROP DATABASE IF EXISTS "{self.name}"',
                # A file copy, not through the WAL (PostgreSQL 15+), and a
                # checkpoint: no variant starts with the copy's writes pending.
                f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY',
                "CHECKPOINT",
            )
        else:
            table = "django_expsession"
            self._server(
                f"DROP DATABASE IF EXISTS `{self.name}`",
                f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                f"CREATE TABLE `{self.name}`.{table} LIKE `{self.template}`.{table}",
                f"INSERT INTO `{self.name}`.{table} SELECT * FROM `{self.template}`.{table}",
                f"ANALYZE TABLE `{self.name}`.{table}",
            )

    def has_template(self) -> bool:
        if self.kind == "sqlite":
            return Path(self.template_name()).exists()
        if self.kind == "postgres":
            found = self._server(f"SELECT 1 FROM pg_database WHERE datname = '{self.template}'")
        else:
            found = self._server(
                "SELECT 1 FROM information_schema.tables "
                f"WHERE table_schema = '{self.template}' AND table_name = 'django_expsession'"
            )
        return bool(found)

    def drop(self, *, keep_template: bool = False) -> None:
        names = [self.name] if keep_template else [self.name, self.template]
        if self.kind == "sqlite":
            for name in names:
                Path(self.workdir / f"{name}.sqlite3").unlink(missing_ok=True)
            return
        quote = '"' if self.kind == "postgres" else "`"
        self._server(*(f"DROP DATABASE IF EXISTS {quote}{n}{quote}" for n in names))


def child(*args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], text=True, cwd=ROOT, **popen)


def run_variant(target: Target, variant: str) -> dict[str, Any]:
    target.copy()
    name = target.working_name()
    writer = child("--role", "writer", "--kind", target.kind, "--name", name, stdout=subprocess.PIPE)
    assert writer.stdout is not None
    if writer.stdout.readline().strip() != "ready":
        raise SystemExit(f"The writer process for {target.kind} did not start.")
    time.sleep(0.5)  # the writer's own warm-up
    cleanup = child(
        "--role",
        "cleanup",
        "--kind",
        target.kind,
        "--name",
        name,
        "--variant",
        variant,
        stdout=subprocess.PIPE,
    )
    out, _ = cleanup.communicate()
    time.sleep(0.2)
    writer.send_signal(signal.SIGTERM)
    stats, _ = writer.communicate(timeout=60)
    if cleanup.returncode != 0:
        raise SystemExit(f"The {variant} cleanup on {target.kind} failed (exit {cleanup.returncode}).")
    return {**json.loads(out), "writer": json.loads(stats.strip().splitlines()[-1])}


def run_rounds(target: Target, variants: list[str], rounds: int) -> dict[str, dict[str, Any]]:
    """Each variant ``rounds`` times, alternating which goes first; the median run of each."""
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    for n in range(rounds):
        for variant in variants if n % 2 == 0 else variants[::-1]:
            runs[variant].append(run_variant(target, variant))
            print(f"  round {n + 1} {variant}: {runs[variant][-1]['seconds']:.2f} s", flush=True)
    results = {}
    for variant, done in runs.items():
        median = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]
        worst = max((r["writer"] for r in done), key=lambda w: w["max_ms"])
        results[variant] = {
            **median,
            "rounds": [r["seconds"] for r in done],
            "rss_mb": max(r["rss_mb"] for r in done),
            "error": next((r["error"] for r in done if r["error"]), None),
            "deleted": min(r["deleted"] for r in done),
            "left": max(r["left"] for r in done),
            # The writer's worst wait over every round, its other figures from the median one.
            "writer": {
                **median["writer"],
                "max_ms": worst["max_ms"],
                "failures": sum(r["writer"]["failures"] for r in done),
            },
        }
    return results


def check(kind: str, results: dict[str, dict[str, Any]], expired: int, smoke: bool) -> list[str]:
    problems = []
    for variant, result in results.items():
        if result["error"] is None and (result["deleted"] != expired or result["left"]):
            problems.append(f"{kind} {variant}: removed {result['deleted']:,} of {expired:,} expired rows")
    if len(results) < len(VARIANTS):
        return problems
    ours, django = results["expsession"], results["django"]
    if ours["error"]:
        problems.append(f"{kind} expsession failed: {ours['error']}")
    if smoke:
        return problems
    writer = ours["writer"]
    if writer["max_ms"] >= MAX_WAIT_MS:
        problems.append(
            f"{kind}: a writer statement waited {writer['max_ms']:.0f} ms (target < {MAX_WAIT_MS})"
        )
    if kind == "sqlite":
        if writer["failures"]:
            problems.append(f"sqlite: {writer['failures']} writer statements failed (target 0)")
    else:
        ratio = ours["seconds"] / django["seconds"]
        if ratio > MAX_RATIO:
            problems.append(f"{kind}: {ratio:.2f}x Django's time (target <= {MAX_RATIO})")
        if ours["rss_mb"] >= MAX_RSS_MB:
            problems.append(f"{kind}: peak RSS {ours['rss_mb']:.0f} MB (target < {MAX_RSS_MB})")
    return problems


def report(kind: str, expired: int, live: int, results: dict[str, dict[str, Any]]) -> None:
    print(f"\n{kind}: {expired:,} expired + {live:,} live rows, a writer beside the cleanup")
    header = f"  {'variant':<11}{'median':>9}{'rows/s':>11}{'peak RSS':>10}"
    header += f"{'writer max':>12}{'p99':>8}{'median':>8}{'writes':>8}{'failed':>8}"
    print(header)
    for variant, r in results.items():
        w = r["writer"]
        rate = r["deleted"] / r["seconds"] if r["seconds"] else 0
        line = f"  {variant:<11}{r['seconds']:>8.2f}s{rate:>11,.0f}{r['rss_mb']:>8.0f}MB"
        line += f"{w['max_ms']:>10.0f}ms{w['p99_ms']:>6.0f}ms{w['median_ms']:>6.1f}ms"
        line += f"{w['writes']:>8}{w['failures']:>8}"
        print(line + (f"   error: {r['error']}" if r["error"] else ""))
    for variant, r in results.items():
        print(f"  {variant} rounds: " + ", ".join(f"{seconds:.2f} s" for seconds in r["rounds"]))
    if len(results) == len(VARIANTS):
        ratio = results["expsession"]["seconds"] / results["django"]["seconds"]
        print(f"  expsession / django (medians): {ratio:.2f}x")


def available(kind: str) -> bool:
    import socket

    if kind == "sqlite":
        return True
    server = POSTGRES if kind == "postgres" else MARIADB
    try:
        with socket.create_connection((server["HOST"], server["PORT"]), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", action="append", choices=list(SIZES), help="Repeatable; default: all that answer."
    )
    parser.add_argument("--expired", type=int, help="Expired rows (default: 1,000,000; SQLite 200,000).")
    parser.add_argument("--live", type=int, help="Live rows (default: 100,000; SQLite 20,000).")
    parser.add_argument("--smoke", action="store_true", help="Tiny tables and no timing targets, for CI.")
    parser.add_argument("--db-name", default="bench_expsession_cleanup", help="The databases' base name.")
    parser.add_argument(
        "--only", choices=VARIANTS, action="append", help="Run only this variant (repeatable)."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Runs of each variant, interleaved; the median time counts (3)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the template; load it only when missing.")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.role == "load":
        role_load(options.kind, options.name, options.expired, options.live)
        return 0
    if options.role == "writer":
        role_writer(options.kind, options.name)
        return 0
    if options.role == "cleanup":
        role_cleanup(options.kind, options.name, options.variant)
        return 0

    kinds = options.database or [kind for kind in SIZES if available(kind)]
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="expsession-cleanup-") as workdir:
        for kind in kinds:
            expired, live = SMOKE_SIZES if options.smoke else SIZES[kind]
            expired = options.expired if options.expired is not None else expired
            live = options.live if options.live is not None else live
            target = Target(kind, options.db_name, KEEP_DIR if options.keep else Path(workdir))
            if not (options.keep and target.has_template()):
                print(f"Loading {expired + live:,} rows into {kind} ...", flush=True)
                target.create_template()
                load = child(
                    "--role", "load", "--kind", kind, "--name", target.template_name(),
                    "--expired", str(expired), "--live", str(live),
                )  # fmt: skip
                if load.wait() != 0:
                    return 1
            try:
                results = run_rounds(
                    target, options.only or list(VARIANTS), 1 if options.smoke else options.rounds
                )
            finally:
                target.drop(keep_template=options.keep)
            report(kind, expired, live, results)
            problems += check(kind, results, expired, options.smoke)
    for problem in problems:
        print(f"MISSED: {problem}")
    if not problems:
        print(
            "\nAll targets met."
            if not options.smoke
            else "\nSmoke run: every expired row removed, live rows kept."
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
