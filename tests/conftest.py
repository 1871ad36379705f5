"""Shared pytest configuration for the package tests.

* A hypothesis profile that makes property-based tests reproducible: ``derandomize=True`` draws
  the same examples on every run, ``database=None`` writes nothing to disk, ``deadline=None``
  because the first call of a test may be slow on a busy machine.  Select another profile with
  ``HYPOTHESIS_PROFILE=thorough`` (more examples, still derandomized).
* ``rng``: a seeded numpy Generator per test; ``strict_numpy``: floating-point warnings raise.
* ``record_error``: tests that compare against a reference record their measured relative
  errors; the worst value per name is printed in the terminal summary.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "bpcourse",
    deadline=None,
    max_examples=25,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("bpcourse"), max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "bpcourse"))


@pytest.fixture
def rng():
    """A fresh, seeded Generator: every test sees the same numbers on every run."""
    return np.random.default_rng(20240611)


@pytest.fixture
def strict_numpy():
    """Every numpy floating-point warning (overflow, divide, invalid) and every Python warning
    becomes an error.  Underflow to 0 (e.g. exp(−1e4)) is the correct answer and numpy ignores
    it by default, so it stays ignored."""
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


_WORST: dict[str, float] = {}


@pytest.fixture
def record_error():
    """``record_error(name, value)`` keeps the worst relative error per name for the summary."""
    def record(name: str, value: float) -> float:
        _WORST[name] = max(_WORST.get(name, 0.0), float(value))
        return value
    return record


def pytest_terminal_summary(terminalreporter):
    if not _WORST:
        return
    terminalreporter.section("worst measured relative errors")
    for name in sorted(_WORST):
        terminalreporter.write_line(f"{name:<45s} {_WORST[name]:.3e}")


# ---- tests/site runs only when asked for ---------------------------------------------------------
# It opens the built website (make site, which needs the 'site' extra and executes every notebook), so
# `make test` leaves it out and `make site-test` (which .ci/run also runs) builds the site and runs it.
SITE_TESTS = Path(__file__).resolve().parent / "site"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def pytest_ignore_collect(collection_path, config):
    if _inside(Path(collection_path).resolve(), SITE_TESTS):
        asked = [Path(str(a).split("::")[0]).resolve() for a in config.args]
        if not any(_inside(a, SITE_TESTS) for a in asked):
            return True
    return None
