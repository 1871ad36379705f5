"""Root pytest configuration: applies to tests/, notebooks/, solutions/ and exercises/.

Notebook kernels started by nbval inherit this environment.  One BLAS thread per process: the
suite runs many small products at once, and oversubscribed OpenBLAS threads make them many times
slower on a busy 2-core machine (the Makefile sets the same for `make test` and `make lab`).

Test tiers (markers registered in pyproject.toml): ``notebook`` for every item that executes a
notebook, ``browser`` for tests/ui, ``slow`` for the grader's hostile corpus.  ``make test-fast``
deselects all three; ``make test`` runs everything.
"""
import os
from pathlib import Path

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_UI = Path(__file__).resolve().parent / "tests" / "ui"


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if path.suffix == ".ipynb" or path.name == "test_notebooks_rerun.py":
            item.add_marker(pytest.mark.notebook)
        if _UI in path.parents:
            item.add_marker(pytest.mark.browser)
        if "bwrap_available" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
