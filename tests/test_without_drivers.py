"""The package needs only Django: every store but RedisStore works without redis-py.

The request cycle, the checks, the admin's modules and the commands.

Run in a fresh interpreter in which ``redis`` and ``django_redis`` cannot be
imported, as after a bare ``pip install django-expsession``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent(
    """
    import sys

    class Absent:
        # Imports of these packages fail, as when they are not installed.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"redis", "django_redis"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())

    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    def counter(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(str(request.session["n"]))

    urlpatterns = [path("", counter)]
    settings.configure(
        DEBUG=True,
        SECRET_KEY="no drivers",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.messages",
            "django_expsession",
        ],
        MIDDLEWARE=[
            "django_expsession.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        SESSION_ENGINE="django_expsession.engine",
        SESSION_COOKIE_NAME="connect.sid",
        EXPSESSION={
            "RESAVE": False,
            "SAVE_UNINITIALIZED": False,
            "STORE": {"BACKEND": sys.argv[1]},
        },
    )
    django.setup()
    from django.core import checks
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    problems = [m for m in checks.run_checks() if m.is_serious()]
    assert not problems, problems
    client = Client()
    answers = [client.get("/").content.decode() for _ in range(3)]
    assert answers == ["1", "2", "3"], answers
    # The admin's pages and the commands, which ask whether the store is a
    # RedisStore, must not need redis-py to ask.
    import io
    import django_expsession.admin, django_expsession.adminusers  # loaded by the admin too
    from django.core.management import load_command_class
    for command in ("clearsessions", "expsession", "expsession_createtable"):
        load_command_class("django_expsession", command)
    if not sys.argv[1].endswith("MemoryStore"):  # MemoryStore: refused outside the server process
        call_command("clearsessions", stderr=io.StringIO())
        out = io.StringIO()
        call_command("expsession", "count", stdout=out, stderr=io.StringIO())
        assert out.getvalue().strip().isdigit(), out.getvalue()
    assert "redis" not in sys.modules and "django_redis" not in sys.modules
    print("ok")
    """
)


@pytest.mark.parametrize(
    "backend",
    [
        "django_expsession.stores.cache.CacheStore",
        "django_expsession.stores.db.DatabaseStore",
        "django_expsession.stores.memory.MemoryStore",
    ],
)
def test_a_store_works_without_redis_py_installed(backend: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, backend], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
