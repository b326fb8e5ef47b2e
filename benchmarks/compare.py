"""django-expsession against django.contrib.sessions, in one interleaved run.

    python benchmarks/compare.py [--rounds 1000] [--warmup 50] [--database sqlite|postgres]
    python benchmarks/compare.py --profile "expsession db"

Every round sends each scenario's request once through every variant, in a
fresh random order, so drift and noise on the machine hit both sides alike.
Each request is timed alone (``perf_counter_ns``) through the whole WSGI
request cycle; the table gives the median, the interquartile range and the
ratio of medians against the paired contrib.sessions variant.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import harness

RESEED_EVERY = 100  # rounds: keeps tables and stores from growing all run long
# The same environment variables as the test suite; the benchmark creates and
# drops its own database and connects to "postgres" to do so.
PG_HOST = os.environ.get("POSTGRES_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("POSTGRES_PORT", "5432"))
PG_USER = os.environ.get("POSTGRES_USER", "postgres")
PG_PASSWORD = os.environ.get("POSTGRES_PASSWORD", "")
POSTGRES_DB = "bench_expsession"

Samples = dict[tuple[str, str], list[int]]


def measure(variants: list[harness.Variant], rounds: int, warmup: int, seed: int) -> Samples:
    rng = random.Random(seed)
    samples: Samples = defaultdict(list)
    clock = time.perf_counter_ns
    for number in range(warmup + rounds):
        if number % RESEED_EVERY == 0:
            harness.reset(variants)
        for scenario in harness.SCENARIOS:
            order = [variant for variant in variants if scenario in variant.scenarios]
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
                if number >= warmup:
                    samples[scenario, variant.name].append(elapsed)
    return samples


def quartiles(values: list[int]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def report(variants: list[harness.Variant], samples: Samples, rounds: int, warmup: int, database: str) -> str:
    import django

    medians = {key: quartiles(values)[1] for key, values in samples.items()}
    bare = medians["none", "no session middleware"]
    lines = [
        f"Database: {database}. Rounds: {rounds} timed (+{warmup} warm-up), interleaved in random order.",
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}.",
        f"Request cycle without session middleware (empty view): median {bare / 1000:.1f} us.",
        "Times are per request, in microseconds; ratio = median / median of the django variant paired",
        "with it; net ratio = the same after subtracting the request cycle without sessions.",
        "",
    ]
    header = f"{'variant':<38} {'median':>8} {'IQR':>7} {'ratio':>6} {'net':>6}  vs"
    for scenario, description in harness.SCENARIOS.items():
        lines += [f"{scenario}: {description}", header, "-" * len(header)]
        for variant in variants:
            if variant.cookie_name is None or (scenario, variant.name) not in samples:
                continue
            q1, median, q3 = quartiles(samples[scenario, variant.name])
            ratio = net = ""
            if variant.baseline is not None:
                paired = medians[scenario, variant.baseline]
                ratio = f"{median / paired:.2f}"
                net = f"{(median - bare) / (paired - bare):.2f}" if paired > bare else "n/a"
            lines.append(
                f"{variant.name:<38} {median / 1000:>8.1f} {(q3 - q1) / 1000:>7.1f} {ratio:>6} {net:>6}"
                f"  {variant.baseline or ''}"
            )
        lines.append("")
    return "\n".join(lines)


# -- databases ----------------------------------------------------------------


@contextmanager
def database(kind: str) -> Iterator[dict[str, Any]]:
    """A throwaway database: a SQLite file in a temp dir, or bench_expsession."""
    from django.db import connections

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-expsession-") as directory:
            try:
                yield harness.sqlite_database(directory)
            finally:
                connections.close_all()
        return
    admin = _postgres_admin()
    admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB}")
    admin.execute(f"CREATE DATABASE {POSTGRES_DB}")
    try:
        yield harness.postgres_database(POSTGRES_DB, PG_HOST, PG_PORT, PG_USER, PG_PASSWORD)
    finally:
        connections.close_all()
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
        admin.close()


def _postgres_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        password=PG_PASSWORD or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=2,
    )


def postgres_available() -> bool:
    try:
        _postgres_admin().close()
    except Exception:  # not installed, not running, not allowed: skip it
        return False
    return True


# -- entry points -------------------------------------------------------------


def select(variants: list[harness.Variant], texts: list[str]) -> list[harness.Variant]:
    """The matching variants, their contrib.sessions pairs and the bare handler."""
    chosen = {v.name for v in variants if any(text in v.name for text in texts)}
    chosen |= {v.baseline for v in variants if v.name in chosen and v.baseline}
    return [v for v in variants if v.name in chosen or v.cookie_name is None]


def profile(variants: list[harness.Variant], name: str, scenario: str, requests: int) -> None:
    """cProfile one variant's requests; the top 15 functions by cumulative time."""
    by_name = {variant.name: variant for variant in variants}
    if name not in by_name:
        raise SystemExit(f"No variant {name!r}; the variants are: {', '.join(by_name)}.")
    variant = by_name[name]
    harness.reset(variants)
    variant.activate()
    for _ in range(200):  # warm-up: imports, caches, connection
        variant.check(scenario, harness.call(variant.handler, variant.prepare(scenario)))
    envs = [variant.prepare(scenario) for _ in range(requests)]
    profiler = cProfile.Profile()
    profiler.enable()
    for env in envs:
        harness.call(variant.handler, env)
    profiler.disable()
    print(f"cProfile: {requests} {scenario!r} requests through {name!r}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=1000, help="timed rounds (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed rounds first (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the shuffled request order")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="sqlite (default; then postgres in a second process when reachable) or postgres only",
    )
    parser.add_argument("--no-postgres", action="store_true", help="do not add the PostgreSQL run")
    parser.add_argument(
        "--only",
        metavar="TEXT",
        action="append",
        help="keep the variants whose name contains TEXT (repeatable), with their django pair",
    )
    parser.add_argument("--profile", metavar="VARIANT", help="profile one variant instead of comparing")
    parser.add_argument("--scenario", default="read", choices=tuple(harness.SCENARIOS), help="for --profile")
    parser.add_argument("--requests", type=int, default=5000, help="for --profile (default 5000)")
    args = parser.parse_args(argv)
    if args.rounds < 2 or args.warmup < 0:
        parser.error("--rounds should be at least 2 (quartiles need two samples), --warmup at least 0.")

    with database(args.database) as settings_dict:
        harness.configure(settings_dict)
        harness.migrate()
        variants = harness.build_variants(database_only=args.database == "postgres")
        if args.only:
            variants = select(variants, args.only)
        if args.profile:
            profile(variants, args.profile, args.scenario, args.requests)
            return 0
        samples = measure(variants, args.rounds, args.warmup, args.seed)
        print(report(variants, samples, args.rounds, args.warmup, args.database), flush=True)

    if args.database == "sqlite" and not args.no_postgres:
        if not postgres_available():
            print(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: skipped.")
            return 0
        command = [sys.executable, __file__, "--database", "postgres"]
        command += ["--rounds", str(args.rounds), "--warmup", str(args.warmup), "--seed", str(args.seed)]
        command += [f"--only={text}" for text in args.only or ()]
        return subprocess.run(command, check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
