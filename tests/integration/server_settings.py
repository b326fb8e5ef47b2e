"""Settings of the uvicorn server the ASGI test starts: the demo's, plus probes."""

import os

from testproject.settings import *  # noqa: F403
from testproject.settings import EXPSESSION

DEBUG = False
ROOT_URLCONF = "tests.integration.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EXPSESSION = {
    **EXPSESSION,
    "STORE": {
        "BACKEND": os.environ.get("EXPSESSION_TEST_STORE", "tests.integration.probes.AsyncMemoryStore")
    },
}
