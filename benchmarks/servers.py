"""Ours against django.contrib.sessions over real HTTP: gunicorn and uvicorn under wrk.

    python benchmarks/servers.py [--seconds 10] [--connections 8] [--store sqlite --store redis ...]

For each store (SQLite, PostgreSQL, Redis) and server (gunicorn with 4 sync
workers; uvicorn, one process), the site of ``httpapp.py`` is started once
with Django's ``SessionMiddleware`` and once with ours, 64 sessions are made,
and wrk (from the system packages) sends their cookies in turn for a fixed
time: returning reads, then returning writes (distinct visitors, as a real
site has them: one session written by eight connections at once would
measure only the merge of concurrent writes). The table
gives requests per second and the 99th percentile latency. wrk and the
servers share this machine's cores, so compare the two stacks, not the
absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG = {
    "HOST": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "PORT": int(os.environ.get("POSTGRES_PORT", "5432")),
    "USER": os.environ.get("POSTGRES_USER", "postgres"),
    "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
    "NAME": "bench_expsession_http",
}
SERVERS = {
    "gunicorn (4 sync workers)": lambda port: [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "4",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--chdir",
        str(HERE),
        "httpapp:wsgi",
    ],
    "uvicorn (1 process)": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--app-dir",
        str(HERE),
        "httpapp:asgi",
    ],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"The server exited with {process.returncode}.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"The server did not answer on port {port}.")


SESSIONS = 64


def session_cookie(port: int, name: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/write", timeout=10) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith(name + "="):
                return header.split(";", 1)[0]
    raise SystemExit(f"/write set no {name} cookie.")


def visitors_script(cookies: list[str], directory: str) -> str:
    """A wrk script that sends the cookies in turn, each thread from its own place."""
    path = os.path.join(directory, "visitors.lua")
    listed = ", ".join(json.dumps(cookie) for cookie in cookies)
    Path(path).write_text(
        f"local cookies = {{{listed}}}\n"
        "local i = 0\n"
        "function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)); "
        "i = math.random(#cookies) end\n"
        "function request()\n  i = i % #cookies + 1\n"
        '  return wrk.format(nil, nil, {["Cookie"] = cookies[i]})\nend\n'
    )
    return path


def wrk(port: int, path: str, script: str, seconds: int, connections: int) -> tuple[float, str]:
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            f"http://127.0.0.1:{port}{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    p99 = re.search(r"^\s+99%\s+(\S+)", done.stdout, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if rate is None or p99 is None or errors is not None:
        raise SystemExit(f"wrk against {path} did not succeed:\n{done.stdout}")
    return float(rate.group(1)), p99.group(1)


def run(store: str, seconds: int, connections: int, directory: str, redis_url: str) -> list[str]:
    env = {
        **os.environ,
        "BENCH_STORE": store,
        "BENCH_SQLITE": os.path.join(directory, f"{store}.sqlite3"),
        "BENCH_REDIS": redis_url,
        "BENCH_PG": json.dumps(PG),
    }
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import httpapp; from django.core.management import call_command; "
            "call_command('migrate', verbosity=0)",
        ],
        cwd=HERE,
        env=env,
        check=True,
    )
    lines = []
    for server, command in SERVERS.items():
        for stack, name in (("django", "sessionid"), ("ours", "connect.sid")):
            port = free_port()
            asgi = "1" if server.startswith("uvicorn") else ""
            process = subprocess.Popen(
                command(port), cwd=HERE, env={**env, "BENCH_STACK": stack, "BENCH_ASGI": asgi}
            )
            try:
                wait_until_up(port, process)
                script = visitors_script([session_cookie(port, name) for _ in range(SESSIONS)], directory)
                wrk(port, "/read", script, 1, connections)  # warm-up: connections, imports
                read = wrk(port, "/read", script, seconds, connections)
                write = wrk(port, "/write", script, seconds, connections)
            finally:
                process.terminate()
                process.wait(timeout=20)
            figures = f"{read[0]:>9.0f} {read[1]:>8} {write[0]:>9.0f} {write[1]:>8}"
            lines.append(f"{store:<9} {server:<26} {stack:<7} {figures}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--seconds", type=int, default=10, help="seconds of load per measurement (default 10)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent wrk connections (default 8)")
    parser.add_argument("--store", action="append", choices=("sqlite", "postgres", "redis"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk).")
    stores = args.store or ["sqlite", "postgres", "redis"]
    if "postgres" in stores:
        import psycopg

        with psycopg.connect(
            host=PG["HOST"],
            port=PG["PORT"],
            user=PG["USER"],
            password=PG["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG['NAME']} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {PG['NAME']}")
    columns = f"{'read r/s':>9} {'read p99':>8} {'write r/s':>9} {'wrt p99':>8}"
    header = f"{'store':<9} {'server':<26} {'stack':<7} {columns}"
    print(
        f"wrk: 2 threads, {args.connections} connections, {args.seconds} s per measurement, on this machine."
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="bench-http-") as directory:
        for store in stores:
            for line in run(store, args.seconds, args.connections, directory, args.redis_url):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
