"""Hypothesis profiles of the fuzz suite, chosen by ``HYPOTHESIS_PROFILE`` (default ``ci``).

``ci`` (what CI runs) is derandomised: the same examples on every run, so a red build is
reproducible and a green one is not luck; ``long`` runs twenty times the examples, random ones
each time, for a deliberate hunt::

    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz

The tests here set no ``max_examples`` of their own, so the profile scales every property. It is
loaded only while this directory's modules are imported (that is when ``@given`` binds its
settings): the hypothesis tests of other directories keep the settings they chose.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from hypothesis import HealthCheck, settings

CI_EXAMPLES = 100
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

# Some properties render reports or run a TLS session per example: slow data generation there
# is the property's cost, not a strategy mistake.
_HEALTH = [HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    derandomize=True,  # a fixed seed per test
    deadline=None,  # a 2-core CI machine under load is not a slow parser
    database=None,  # nothing written into the repository
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "long",
    max_examples=20 * CI_EXAMPLES,
    derandomize=False,
    deadline=None,
    database=None,
    print_blob=True,  # a failure prints the @reproduce_failure line that replays it
    suppress_health_check=_HEALTH,
)
settings.get_profile(PROFILE)  # an unknown name fails here, with hypothesis's own message


def _current_profile() -> str:
    getter = getattr(settings, "get_current_profile_name", None)  # hypothesis >= 6.1xx
    return str(getter()) if getter is not None else str(settings._current_profile or "default")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, object, object]:
    """Load the profile around the import of each module in this directory."""
    if not isinstance(collector, pytest.Module):
        return (yield)
    before = _current_profile()
    settings.load_profile(PROFILE)
    try:
        return (yield)
    finally:
        settings.load_profile(before)
