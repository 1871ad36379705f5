"""The linter and the type checker run as part of the suite: ruff (E, F, W, B, I) on the package,
the tests and the benchmarks, mypy on the engine's public modules (both configured in pyproject.toml)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bpcourse as bp

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("tool", ["ruff", "mypy"])
def test_tool_is_installed(tool):
    """Both are in the test extra; a missing one is an error, not a skip."""
    r = _run(tool, "--version")
    assert r.returncode == 0, f"{tool} is not installed: pip install -e '.[test]'\n{r.stderr}"


def test_ruff_is_clean():
    r = _run("ruff", "check", "--no-cache", "bpcourse", "tests", "benchmarks", "conftest.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_is_clean_on_the_public_engine_modules():
    r = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_version_is_written_once():
    text = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)
    assert bp.__version__ == declared
    init = (ROOT / "bpcourse" / "__init__.py").read_text()
    assert declared not in init


def test_the_package_says_it_is_typed():
    assert (ROOT / "bpcourse" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
