"""docs/express.rst shows the configuration these tests run, not another one.

The page's ``app.js`` lines run under Node with stand-ins for the npm
packages that record the options they are given; its ``EXPSESSION`` block
runs in Python. Both must equal what ``Pairing`` gives the two apps; so
must the CacheStore variant, whose connect-redis prefix is what the
documented cache makes of the documented ``KEY_PREFIX``, and the
PostgreSQL one (``Pairing.over_postgres``).
"""

from __future__ import annotations

import json
import re
import subprocess
import types
from pathlib import Path
from typing import Any

from .harness import HERE, Pairing

PAGE = Path(__file__).resolve().parents[2] / "docs" / "express.rst"
SECRET, REDIS_URL = "from the environment", "redis://redis.example:6379/0"
DOCUMENTED = Pairing(prefix="myapp:sess:", secrets=(SECRET,))

# Runs the page's app.js lines with require() answering recorders.
RECORDER = """
const recorded = {};
const modules = {
  express: () => ({ use() {}, set(key, value) { recorded.set = [key, value]; } }),
  'express-session': (options) => { recorded.session = options; return () => {}; },
  'connect-redis': { RedisStore: class { constructor(options) { recorded.store = options; } } },
  'connect-pg-simple': () => class { constructor(options) { recorded.store = options; } },
  redis: { createClient: (options) => ({ url: options.url, connect: async () => {} }) },
};
const code = require('fs').readFileSync(0, 'utf8');
new Function('require', 'process', code)((name) => modules[name], { env: JSON.parse(process.argv[1]) });
const { store, ...session } = recorded.session || {};
const { client, ...options } = recorded.store;
console.log(JSON.stringify({ session, store: { ...options, url: client && client.url } }));
"""
# What the page's app.js has above a line that only makes the store.
STORE_LINE_CONTEXT = """
const { RedisStore } = require('connect-redis');
const redisClient = require('redis').createClient({ url: process.env.REDIS_URL });
"""
PG_LINE_CONTEXT = "const session = require('express-session');\n"
DATABASE_URL = "postgresql://app@db.example/app"


def code_blocks(language: str) -> list[str]:
    text = PAGE.read_text()
    pattern = rf"^(\s*)\.\. code-block:: {language}\n\n((?:\1    .*\n|\s*\n)+)"
    blocks = []
    for match in re.finditer(pattern, text, re.M):
        indent = len(match.group(1)) + 4
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return blocks


def run_documented_js(code: str) -> dict[str, Any]:
    """What the page's JavaScript gives express-session and connect-redis."""
    env = {"SESSION_SECRET": SECRET, "REDIS_URL": REDIS_URL, "DATABASE_URL": DATABASE_URL}
    result = subprocess.run(
        ["node", "-e", RECORDER, json.dumps(env)],
        input=code,
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_documented_express_options_are_the_tested_ones() -> None:
    (app_js,) = [block for block in code_blocks("javascript") if "session({" in block]
    documented = run_documented_js(app_js)
    tested = DOCUMENTED.express_env(REDIS_URL)
    assert documented["store"] == {"prefix": tested["STORE_PREFIX"], "url": tested["REDIS_URL"]}
    assert documented["session"] == {
        "secret": json.loads(tested["SESSION_SECRETS"]),
        "name": tested["SESSION_NAME"],
        "cookie": json.loads(tested["SESSION_COOKIE"]),
        **json.loads(tested["SESSION_OPTIONS"]),
    }


def test_the_documented_django_settings_are_the_tested_ones() -> None:
    (settings_py,) = [block for block in code_blocks("python") if "EXPSESSION = {" in block]
    namespace: dict[str, Any] = {
        "os": types.SimpleNamespace(environ={"SESSION_SECRET": SECRET, "REDIS_URL": REDIS_URL})
    }
    exec(settings_py, namespace)
    assert namespace["EXPSESSION"] == DOCUMENTED.expsession(REDIS_URL)
    assert namespace["SESSION_COOKIE_NAME"] == DOCUMENTED.name


def test_the_documented_cache_store_pairing_is_the_tested_one(settings: Any) -> None:
    (settings_py,) = [block for block in code_blocks("python") if "CacheStore" in block]
    (store_js,) = [block for block in code_blocks("javascript") if block.startswith("const store = ")]
    namespace: dict[str, Any] = {
        "os": types.SimpleNamespace(environ={"SESSION_SECRET": SECRET, "REDIS_URL": REDIS_URL}),
        "EXPSESSION": DOCUMENTED.expsession(REDIS_URL),
    }
    exec(settings_py, namespace)
    settings.CACHES = namespace["CACHES"]
    options = namespace["EXPSESSION"]["STORE"]["OPTIONS"]
    tested = Pairing.over_cache(options["CACHE"], options["KEY_PREFIX"], secrets=(SECRET,))
    assert namespace["EXPSESSION"] == tested.expsession(REDIS_URL)
    assert tested.prefix == ":1:myapp:sess:"  # what the page says django-redis's defaults make
    documented = run_documented_js(STORE_LINE_CONTEXT + store_js)
    assert documented["store"] == {"prefix": tested.prefix, "url": REDIS_URL}


def test_the_documented_postgresql_pairing_is_the_tested_one() -> None:
    (settings_py,) = [block for block in code_blocks("python") if "connect-pg-simple" in block]
    (store_js,) = [block for block in code_blocks("javascript") if "require('connect-pg-simple')" in block]
    namespace: dict[str, Any] = {"EXPSESSION": DOCUMENTED.expsession(REDIS_URL)}
    exec(settings_py, namespace)
    tested = Pairing.over_postgres("session", DATABASE_URL, None, secrets=(SECRET,))
    assert namespace["EXPSESSION"] == tested.expsession(REDIS_URL)
    documented = run_documented_js(PG_LINE_CONTEXT + store_js)
    env = tested.express_env(REDIS_URL)
    # app.js also sets createTableIfMissing, and turns pruning off for the tests.
    assert documented["store"] == {"conString": env["PG_URL"], "tableName": env["PG_TABLE"]}
