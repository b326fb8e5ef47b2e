"""docs/express.rst shows the configuration these tests run, not another one.

The page's ``app.js`` lines run under Node with stand-ins for the npm
packages that record the options they are given; its ``EXPSESSION`` block
runs in Python. Both must equal what ``Pairing`` gives the two apps.
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
  redis: { createClient: (options) => ({ url: options.url, connect: async () => {} }) },
};
const code = require('fs').readFileSync(0, 'utf8');
new Function('require', 'process', code)((name) => modules[name], { env: JSON.parse(process.argv[1]) });
const { store, ...session } = recorded.session;
const { prefix, client } = recorded.store;
console.log(JSON.stringify({ session, store: { prefix, url: client.url } }));
"""


def code_blocks(language: str) -> list[str]:
    text = PAGE.read_text()
    pattern = rf"^(\s*)\.\. code-block:: {language}\n\n((?:\1    .*\n|\s*\n)+)"
    blocks = []
    for match in re.finditer(pattern, text, re.M):
        indent = len(match.group(1)) + 4
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return blocks


def test_the_documented_express_options_are_the_tested_ones() -> None:
    (app_js,) = [block for block in code_blocks("javascript") if "session({" in block]
    env = {"SESSION_SECRET": SECRET, "REDIS_URL": REDIS_URL}
    result = subprocess.run(
        ["node", "-e", RECORDER, json.dumps(env)],
        input=app_js,
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    documented = json.loads(result.stdout)
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
