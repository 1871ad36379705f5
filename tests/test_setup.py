"""The repository's setup files agree with each other, and notebooks are committed clean."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")


# ---- environment.yml lists what pyproject.toml lists ------------------------------------------

def _requirement(spec):
    """'numpy>=1.24' -> ('numpy', {'>=1.24'}); 'ipywidgets>=8.0,<8.1.3' -> ('ipywidgets', {'>=8.0', '<8.1.3'});
    names normalised as pip does (case, _ . -)."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*((?:[<>=!~]=?\s*[0-9][0-9.*]*\s*,?\s*)*)",
                     spec)
    assert m, f"cannot read requirement {spec!r} (expected 'name' or 'name' followed by version clauses)"
    clauses = {re.sub(r"\s+", "", c) for c in m.group(2).split(",") if c.strip()}
    return re.sub(r"[-_.]+", "-", m.group(1).lower()), clauses


def _pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
        data = tomllib.loads(text)
        project = data["project"]
        return project["requires-python"], project["dependencies"], project["optional-dependencies"]
    except ImportError:                                   # Python 3.10: read the arrays by hand
        def array(key):
            m = re.search(rf"^{re.escape(key)}\s*=\s*\[(.*?)\]", text, re.M | re.S)
            return re.findall(r'"([^"]+)"', m.group(1))
        extras = {k: array(k) for k in ("lab", "test")}
        return re.search(r'requires-python\s*=\s*"([^"]+)"', text).group(1), array("dependencies"), extras


def _environment_yml():
    """Top-level conda dependencies and the nested pip list, from a tiny line parser."""
    conda, pip, section = [], [], None
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            section = line.split(":", 1)[0]
            continue
        if section != "dependencies":
            continue
        item = line.strip()
        if not item.startswith("- "):
            continue
        item = item[2:].strip()
        indent = len(line) - len(line.lstrip())
        if item == "pip:":
            continue
        (pip if indent > 2 else conda).append(item)
    return conda, pip


def test_environment_yml_has_the_same_dependencies_as_pyproject():
    _, runtime, extras = _pyproject()
    wanted = {}
    for name, clauses in map(_requirement, runtime + extras["lab"] + extras["test"]):
        wanted.setdefault(name, set()).update(clauses)    # ipywidgets: the runtime floor and the lab extra's cap
    conda, _ = _environment_yml()
    listed = dict(_requirement(s) for s in conda if not s.startswith("python") and s != "pip")
    assert listed == wanted


def test_environment_yml_pins_python_and_installs_the_package():
    requires_python, _, _ = _pyproject()
    conda, pip = _environment_yml()
    pins = [s for s in conda if re.fullmatch(r"python\s*=+\s*3\.\d+(\.\d+)?", s)]
    assert len(pins) == 1, f"environment.yml should pin python exactly once (python=3.x), got {conda}"
    pinned = tuple(int(v) for v in re.findall(r"\d+", pins[0])[:2])
    minimum = tuple(int(v) for v in re.search(r">=\s*(\d+)\.(\d+)", requires_python).groups())
    assert pinned >= minimum
    assert "pip" in conda and "-e ." in pip


def test_requirement_parser():
    assert _requirement("numpy>=1.24") == ("numpy", {">=1.24"})
    assert _requirement("jupyterlab_rise >= 0.40") == ("jupyterlab-rise", {">=0.40"})
    assert _requirement("Pytest") == ("pytest", set())
    assert _requirement("ipywidgets>=8.0,<8.1.3") == ("ipywidgets", {">=8.0", "<8.1.3"})
    assert _requirement("jupyterlab_widgets==3.0.10") == ("jupyterlab-widgets", {"==3.0.10"})
    with pytest.raises(AssertionError):
        _requirement("numpy>=1.24; python_version<'3.12'")


# ---- notebooks are committed without outputs ------------------------------------------------

def _notebooks():
    return sorted(p.relative_to(ROOT).as_posix() for d in NOTEBOOK_DIRS if (ROOT / d).is_dir()
                  for p in (ROOT / d).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("folder", NOTEBOOK_DIRS)
def test_notebook_folders_exist(folder):
    assert (ROOT / folder).is_dir()


def _committed_text(path):
    """The committed copy of ``path`` when git tracks it, else the file on disk.

    A learner who runs a notebook in JupyterLab autosaves its outputs: that must not fail their
    `make test`.  What must be clean is what is committed (a fresh clone, as CI checks out, has
    the two equal anyway).
    """
    try:
        out = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is not None and out.returncode == 0:
        return out.stdout.decode("utf-8")
    return (ROOT / path).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _notebooks())
def test_notebook_has_no_outputs(path):
    nb = json.loads(_committed_text(path))
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path}: code cells {dirty} have outputs or execution counts; clear them before committing"


# ---- .gitignore and Makefile ----------------------------------------------------------------

def test_gitignore_ignores_the_venv():
    lines = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert lines & {".venv", ".venv/", "/.venv", "/.venv/"}


def _makefile():
    return (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("target", ["lab", "test", "test-fast"])
def test_makefile_has_target(target):
    assert re.search(rf"^{target}\s*:", _makefile(), re.M), f"Makefile has no '{target}:' target"
    phony = re.search(r"^\.PHONY\s*:(.*)$", _makefile(), re.M)
    assert phony and target in phony.group(1).split()


def test_allow_root_is_only_conditional():
    """JupyterLab's --allow-root must come from a root check, never be passed unconditionally."""
    text = _makefile()
    lines = [line for line in text.splitlines() if "--allow-root" in line]
    assert lines, "Makefile never passes --allow-root (needed when the container runs as root)"
    for line in lines:
        assert "id -u" in line or "ifeq" in line or "ifneq" in line, f"unconditional --allow-root: {line!r}"
        assert not line.startswith("\t"), f"--allow-root written into a recipe: {line!r}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("uid,expected", [("0", True), ("1000", False)])
def test_make_lab_passes_allow_root_only_for_root(tmp_path, uid, expected):
    """Dry-run `make lab` with a stand-in `id` that reports the given user id."""
    fake = tmp_path / "id"
    fake.write_text(f"#!/bin/sh\necho {uid}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lab_line = [line for line in out.stdout.splitlines() if "jupyter lab" in line]
    assert lab_line, out.stdout
    assert ("--allow-root" in lab_line[-1]) == expected
    # the server's root is the repository, so 00's links to ../exercises and ../solutions resolve
    assert f'--ServerApp.root_dir="{ROOT}"' in lab_line[-1] or f"--ServerApp.root_dir={ROOT}" in lab_line[-1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_runs_pytest():
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert any("-m pytest" in line for line in out.stdout.splitlines())


# ---- a plain `pip install .` has every third-party module the package imports -------------------

def _top_level_imports(path):
    import ast
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _installed_closure(requirements):
    """Distribution names (normalised) pulled in by ``requirements``, following their own requirements."""
    from importlib import metadata
    seen, todo = set(), [_requirement(s)[0] for s in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r:                    # optional extras are not installed by a plain install
                continue
            todo.append(re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group(0).lower()))
    return seen


def test_every_imported_third_party_module_is_a_runtime_dependency():
    """`python -m bpcourse.exercises` after a plain `pip install .` needs nbformat (issue 9 bug)."""
    import sys
    from importlib import metadata
    _, runtime, _ = _pyproject()
    provided = _installed_closure(runtime)
    providers = metadata.packages_distributions()
    missing = {}
    for path in sorted((ROOT / "bpcourse").rglob("*.py")):
        for mod in _top_level_imports(path):
            if mod in sys.stdlib_module_names or mod == "bpcourse" or mod not in providers:
                continue
            dists = {re.sub(r"[-_.]+", "-", d.lower()) for d in providers[mod]}
            if not dists & provided:
                missing.setdefault(mod, []).append(path.relative_to(ROOT).as_posix())
    assert not missing, f"imported by bpcourse but not installed by its dependencies: {missing}"


# ---- documentation cites only documents that ship with the repository --------------------------

def test_no_citation_of_a_document_outside_the_repository():
    """Docstrings once cited "COURSE_DESIGN §7" and "design §3.1", which a clone does not contain."""
    cited = re.compile(r"COURSE_DESIGN|DEVELOPERS\.md|\bdesign §\d")
    files = [p for d in ("bpcourse", "tests", "benchmarks", "docs") for p in (ROOT / d).rglob("*")
             if p.suffix in (".py", ".md")] + [ROOT / "README.md"]
    bad = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in files
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if cited.search(line) and p.name != "test_setup.py"]
    assert not bad, "\n".join(bad)
