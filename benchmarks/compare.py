"""django-expsession against django.contrib.sessions, on every store, in one command.

    python benchmarks/compare.py [--rounds 500] [--warmup 30] [--store memory --store sqlite ...]
    python benchmarks/compare.py --profile "ours" --store memory --scenario read

Each store runs in its own process: no session middleware, Django's
``SessionMiddleware`` with its equivalent engine, and django-expsession's
middleware on the store, all on the same server. Every round sends each
scenario's request once through every variant, in a fresh random order, so
drift and noise on the machine hit all alike. Each request is timed alone
(``perf_counter_ns``) through the whole WSGI request cycle. The report gives
medians, the net ratio (ours minus the bare cycle, over Django's minus the
bare cycle) and the store operations per request, counted at the servers in
a separate, sequential pass. It exits non-zero when a response is wrong.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import counting
import harness

STORES = ("memory", "sqlite", "postgres", "mariadb", "redis")
RESEED_EVERY = 100  # rounds: keeps tables and stores from growing all run long
COUNTED_REQUESTS = 50
# Targets of the request-path issue: the net ratio ours/Django per scenario.
TARGETS = {
    "new": 1.0,
    "untouched": 1.0,
    "read": 0.8,
    "write": 0.8,
    "visitors": 0.8,
    "login": 0.8,
}
PG = {
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
BENCH_DB = "bench_expsession"

Samples = dict[tuple[str, str], list[int]]


# -- one store, in this process -------------------------------------------------


def measure(variants: list[harness.Variant], rounds: int, warmup: int, seed: int) -> Samples:
    rng = random.Random(seed)
    samples: Samples = defaultdict(list)
    clock = time.perf_counter_ns
    for number in range(warmup + rounds):
        if number % RESEED_EVERY == 0:
            harness.reset(variants)
        for scenario in harness.SCENARIOS:
            order = [variant for variant in variants if scenario in variant.scenarios()]
            rng.shuffle(order)
            for variant in order:
                variant.activate()
                env = variant.prepare(scenario)
                result = harness.Result()
                start = clock()
                response = variant.handler(env, result.start_response)
                result.body = b"".join(response)
                response.close()  # type: ignore[attr-defined]
                elapsed = clock() - start
                variant.check(scenario, result)
                variant.after(scenario, result)
                if number >= warmup:
                    samples[scenario, variant.name].append(elapsed)
    return samples


def count_operations(setup: harness.StoreSetup, variants: list[harness.Variant]) -> dict[str, dict[str, str]]:
    """Store operations per request, per scenario and variant, counted in a sequential pass."""
    from django.db import connections

    harness.reset(variants)
    found: dict[str, dict[str, str]] = defaultdict(dict)
    connection = connections["default"]
    sql = counting.SQLCounter(connection)
    redis_client = _redis_client() if setup.name == "redis" else None
    for variant in variants:
        if variant.cookie_name is None:
            continue
        for scenario in variant.scenarios():
            variant.activate()
            before_server = counting.mariadb_status(connection) if setup.name == "mariadb" else None
            before_redis = counting.redis_commandstats(redis_client) if redis_client is not None else None
            with sql.counting() as statements:
                for _ in range(COUNTED_REQUESTS):
                    result = harness.call(variant.handler, variant.prepare(scenario))
                    variant.check(scenario, result)
                    variant.after(scenario, result)
            parts = []
            if setup.name in ("sqlite", "postgres", "mariadb"):
                parts.append("SQL " + counting.describe(statements, COUNTED_REQUESTS))
            if before_server is not None:
                after = counting.mariadb_status(connection)
                parts.append("server " + counting.describe(after - before_server, COUNTED_REQUESTS))
            if before_redis is not None:
                delta = counting.redis_commandstats(redis_client) - before_redis
                delta.pop("INFO", None)
                parts.append("Redis " + counting.describe(delta, COUNTED_REQUESTS))
            if setup.name == "memory":
                parts.append("in process")
            found[scenario][variant.name] = "; ".join(parts)
    return found


def _redis_client() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("redis")


def floor(setup: harness.StoreSetup) -> str:
    """The raw cost of one bare store round trip, for the distance to the floor."""
    from django.db import connections

    if setup.name in ("sqlite", "postgres", "mariadb"):
        connection = connections["default"]
        q = connection.ops.quote_name
        sql = f"SELECT {q('data')} FROM {q('django_expsession')} WHERE {q('sid')} = %s"

        def once() -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql, ["none"])
                cursor.fetchone()

        what = "a primary-key SELECT through Django's cursor"
    elif setup.name == "redis":
        client = _redis_client()

        def once() -> None:
            client.get("bench:none")

        what = "a Redis GET through redis-py"
    else:
        return ""
    for _ in range(200):
        once()
    times = []
    for _ in range(2000):
        start = time.perf_counter_ns()
        once()
        times.append(time.perf_counter_ns() - start)
    return f"One bare store round trip ({what}): median {statistics.median(times) / 1000:.1f} us."


def run_store(name: str, rounds: int, warmup: int, seed: int, redis_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-expsession-") as directory, databases(name) as (pg, maria):
        setup = harness.store_setups(directory, pg, maria)[name]
        harness.configure(setup, redis_url)
        harness.migrate()
        variants = harness.build_variants(setup)
        samples = measure(variants, rounds, warmup, seed)
        operations = count_operations(setup, variants)
        result = {
            "store": name,
            "variants": [v.name for v in variants],
            "medians": {f"{s}|{v}": statistics.median(t) for (s, v), t in samples.items()},
            "quartiles": {
                f"{s}|{v}": statistics.quantiles(t, n=4, method="inclusive") if len(t) > 1 else [t[0]] * 3
                for (s, v), t in samples.items()
            },
            "operations": operations,
            "floor": floor(setup),
        }
        from django.db import connections

        connections.close_all()
        return result


@contextmanager
def databases(name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The benchmark's own PostgreSQL or MariaDB database, created and dropped."""
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": BENCH_DB, "CONN_MAX_AGE": None, **PG}
    maria = {
        "ENGINE": "django.db.backends.mysql",
        "NAME": BENCH_DB,
        "CONN_MAX_AGE": None,
        "OPTIONS": {"charset": "utf8mb4"},
        **MARIADB,
    }
    if name == "postgres":
        import psycopg

        admin = psycopg.connect(
            host=PG["HOST"],
            port=PG["PORT"],
            user=PG["USER"],
            password=PG["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")
        try:
            yield pg, maria
        finally:
            from django.db import connections

            connections.close_all()
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            admin.close()
    elif name == "mariadb":
        import MySQLdb

        admin = MySQLdb.connect(
            host=MARIADB["HOST"], port=MARIADB["PORT"], user=MARIADB["USER"], password=MARIADB["PASSWORD"]
        )
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin.cursor().execute(f"CREATE DATABASE {BENCH_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        try:
            yield pg, maria
        finally:
            from django.db import connections

            connections.close_all()
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            admin.close()
    else:
        yield pg, maria


# -- the whole run: one process per store -----------------------------------------


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def private_redis() -> Iterator[str | None]:
    """A redis-server of our own on a free port (its INFO counts only us), if installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if reachable("127.0.0.1", port):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def available(name: str, redis_url: str | None) -> str | None:
    """None when the store's server answers, else why not."""
    if name == "postgres" and not reachable(PG["HOST"], PG["PORT"]):
        return f"PostgreSQL is not reachable at {PG['HOST']}:{PG['PORT']}"
    if name == "mariadb":
        if not reachable(MARIADB["HOST"], MARIADB["PORT"]):
            return f"MariaDB is not reachable at {MARIADB['HOST']}:{MARIADB['PORT']}"
        try:
            import MySQLdb  # noqa: F401
        except ImportError:
            return "mysqlclient is not installed"
    if name == "redis" and redis_url is None:
        return "no redis-server to start and no --redis-url"
    return None


def report(results: list[dict[str, Any]], rounds: int, warmup: int) -> tuple[str, list[str]]:
    import django

    lines = [
        f"Rounds: {rounds} timed (+{warmup} warm-up), interleaved in random order; one process per store.",
        f"Python {platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}. Times are medians per request in microseconds.",
        "net = (ours - bare cycle) / (Django - bare cycle); for untouched-cookie the reference is Django's",
        "read on the same store, as Django does no work there. Targets: net <= 0.8 (read, write,",
        "visitors, login, untouched-cookie) and <= 1.0 (new, untouched).",
        "",
    ]
    missed: list[str] = []
    for result in results:
        store = result["store"]
        medians = result["medians"]
        names = result["variants"]
        bare = medians[f"untouched|{names[0]}"]
        django_name = names[1]
        lines.append(f"== {store}  (bare request cycle {bare / 1000:.1f} us; Django: {django_name})")
        if result["floor"]:
            lines.append(result["floor"])
        header = f"{'scenario':<17} {'variant':<18} {'median':>8} {'net':>6}  store operations per request"
        lines += [header, "-" * len(header)]
        for scenario in harness.SCENARIOS:
            for name in names[1:]:
                key = f"{scenario}|{name}"
                if key not in medians:
                    continue
                median = medians[key]
                net = ""
                if name != django_name:
                    reference = medians[
                        f"{'read' if scenario == 'untouched-cookie' else scenario}|{django_name}"
                    ]
                    if reference > bare:
                        ratio = (median - bare) / (reference - bare)
                        net = f"{ratio:.2f}"
                        target = 0.8 if scenario == "untouched-cookie" else TARGETS[scenario]
                        if ratio > target:
                            missed.append(f"{store} / {scenario} / {name}: {ratio:.2f} (target {target})")
                ops = result["operations"].get(scenario, {}).get(name, "")
                lines.append(f"{scenario:<17} {name:<18} {median / 1000:>8.1f} {net:>6}  {ops}")
        lines.append("")
    return "\n".join(lines), missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=500, help="timed rounds (default 500)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed rounds first (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the shuffled request order")
    parser.add_argument("--store", action="append", choices=STORES, help="only this store (repeatable)")
    parser.add_argument("--redis-url", help="a Redis server to use instead of a private redis-server")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results to FILE")
    parser.add_argument("--require-all", action="store_true", help="fail when a store's server is missing")
    parser.add_argument("--profile", metavar="VARIANT", help="profile one variant of one --store instead")
    parser.add_argument("--scenario", default="read", choices=tuple(harness.SCENARIOS), help="for --profile")
    parser.add_argument("--requests", type=int, default=5000, help="for --profile (default 5000)")
    parser.add_argument("--child", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds should be at least 1, --warmup at least 0.")

    if args.child:
        if args.profile:
            return profile(args)
        print(json.dumps(run_store(args.child, args.rounds, args.warmup, args.seed, args.redis_url)))
        return 0

    stores = args.store or list(STORES)
    results = []
    with private_redis() if args.redis_url is None else _given(args.redis_url) as redis_url:
        for name in stores:
            why = available(name, redis_url)
            if why is not None:
                print(f"{name}: skipped ({why}).", file=sys.stderr)
                if args.require_all:
                    return 2
                continue
            command = [sys.executable, __file__, "--child", name, "--rounds", str(args.rounds)]
            command += [
                "--warmup",
                str(args.warmup),
                "--seed",
                str(args.seed),
                "--redis-url",
                redis_url or "",
            ]
            if args.profile:
                command += [
                    "--profile",
                    args.profile,
                    "--scenario",
                    args.scenario,
                    "--requests",
                    str(args.requests),
                ]
                return subprocess.run(command, check=False).returncode
            print(f"{name}: running ...", file=sys.stderr, flush=True)
            done = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(done.stdout, file=sys.stderr)
                return done.returncode
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    text, missed = report(results, args.rounds, args.warmup)
    print(text)
    print("Above target: " + ("; ".join(missed) if missed else "nothing."))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def profile(args: argparse.Namespace) -> int:
    """cProfile one variant's requests; the top 25 functions by cumulative time."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-expsession-") as directory,
        databases(args.child) as (pg, m),
    ):
        setup = harness.store_setups(directory, pg, m)[args.child]
        harness.configure(setup, args.redis_url)
        harness.migrate()
        variants = harness.build_variants(setup)
        by_name = {variant.name: variant for variant in variants}
        if args.profile not in by_name:
            raise SystemExit(f"No variant {args.profile!r}; the variants are: {', '.join(by_name)}.")
        variant = by_name[args.profile]
        harness.reset(variants)
        variant.activate()
        for _ in range(200):  # warm-up: imports, caches, connection
            result = harness.call(variant.handler, variant.prepare(args.scenario))
            variant.check(args.scenario, result)
            variant.after(args.scenario, result)
        profiler = cProfile.Profile()
        for _ in range(args.requests):
            env = variant.prepare(args.scenario)
            profiler.enable()
            result = harness.call(variant.handler, env)
            profiler.disable()
            variant.after(args.scenario, result)
        print(
            f"cProfile: {args.requests} {args.scenario!r} requests through {args.profile!r} on {args.child}"
        )
        stats = pstats.Stats(profiler)
        print(f"{stats.total_calls / args.requests:.0f} function calls per request")  # type: ignore[attr-defined]
        stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
