"""Hypothesis profiles for the property-based tests of this package.

``bounded`` (the default) keeps the normal run short and deterministic: a
fixed number of examples, derandomized, a deadline, no example database.
``long`` is the soak run before a release (CONTRIBUTING.rst):

    HYPOTHESIS_PROFILE=long python -m pytest tests/properties --hypothesis-show-statistics

The profile is applied by decorating each test with :data:`PROFILE`, not by
loading it globally, so that Hypothesis tests elsewhere in the suite keep
their own settings.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

settings.register_profile(
    "bounded",
    max_examples=150,
    # Per example; generous, for a busy CI machine under coverage.
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    print_blob=True,
    # The request-cycle properties configure Django once per test, through
    # pytest's function-scoped ``settings`` fixture, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=100_000,
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: The active profile: HYPOTHESIS_PROFILE names it ("bounded" when unset).
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE") or "bounded")
