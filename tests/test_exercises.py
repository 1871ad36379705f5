"""The exercise notebooks: solutions/ is the single source, exercises/ is exactly what the
generator writes, every question has its check cell, and no answer leaks into the package."""
import json
import re
from pathlib import Path

import nbformat
import pytest

from bpcourse.checks import EXERCISE_KEYS, get_exercise
from bpcourse.exercises import BEGIN, END, SolutionMarkerError, exercise_notebook, generate, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex[0-9][0-9]_*.ipynb"))
CHECKS = ROOT / "bpcourse" / "checks"


def _nb(path):
    return nbformat.read(str(path), as_version=4)


def _solution_regions(source):
    return re.findall(rf"{re.escape(BEGIN)}\n(.*?)\n[ \t]*{re.escape(END)}", source, flags=re.S)


def test_one_solution_notebook_per_exercise():
    keys = [p.name[:4] for p in SOLUTIONS]
    assert keys == list(EXERCISE_KEYS)
    for path in SOLUTIONS:
        assert get_exercise(path.name[:4]).notebook == path.name


def _committed_tree(tmp_path, folder):
    """A copy of ``folder``'s committed notebooks (git HEAD) in tmp_path, or None outside git.

    Learners solve the exercises in place, so the working copies drift from the generator by
    design; what must match is what is committed (a fresh clone, as CI checks out, is both).
    """
    import subprocess
    try:
        names = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True,
                               timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if names.returncode != 0 or not names.stdout.strip():
        return None
    out = tmp_path / folder
    out.mkdir(parents=True)
    for name in names.stdout.split():
        blob = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=ROOT, capture_output=True, timeout=30)
        if blob.returncode != 0:          # added but not committed yet: take the file on disk
            (out / Path(name).name).write_bytes((ROOT / name).read_bytes())
        else:
            (out / Path(name).name).write_bytes(blob.stdout)
    return out


def test_exercises_folder_is_exactly_what_the_generator_writes(tmp_path):
    solutions = _committed_tree(tmp_path, "solutions") or ROOT / "solutions"
    exercises = _committed_tree(tmp_path, "exercises") or ROOT / "exercises"
    stale = generate(solutions, exercises, check=True)
    assert stale == [], f"run `python -m bpcourse.exercises` and commit exercises/; out of date: {stale}"


def test_generator_writes_and_then_reports_nothing_to_do(tmp_path):
    written = generate(ROOT / "solutions", tmp_path, check=False)
    assert len(written) == len(SOLUTIONS)
    assert generate(ROOT / "solutions", tmp_path, check=True) == []
    (tmp_path / SOLUTIONS[0].name).write_text("edited by hand\n")
    (tmp_path / "ex99_stale.ipynb").write_text("{}")
    assert {p.name for p in generate(ROOT / "solutions", tmp_path, check=True)} == {SOLUTIONS[0].name,
                                                                                    "ex99_stale.ipynb"}
    generate(ROOT / "solutions", tmp_path)
    assert not (tmp_path / "ex99_stale.ipynb").exists()
    assert generate(ROOT / "solutions", tmp_path, check=True) == []


def test_strip_solutions_keeps_indentation_and_everything_outside_markers():
    src = ("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\n"
           "class A:\n    def g(self):\n        ### BEGIN SOLUTION\n        pass\n        ### END SOLUTION\n")
    out = strip_solutions(src)
    assert out == ("def f(x):\n    y = 1\n    raise NotImplementedError()\n\n"
                   "class A:\n    def g(self):\n        raise NotImplementedError()\n")
    compile(out, "<test>", "exec")


@pytest.mark.parametrize("bad, words", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
])
def test_unbalanced_markers_are_reported_with_their_place(bad, words):
    with pytest.raises(SolutionMarkerError, match=words):
        strip_solutions(bad, where="nb cell 3")


def test_markers_outside_code_cells_are_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"{BEGIN}\nsecret\n{END}")])
    with pytest.raises(SolutionMarkerError, match="only allowed in code cells"):
        exercise_notebook(nb)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_is_clean_and_complete(path):
    nb = _nb(path)
    key = path.name[:4]
    assert nb.metadata.get("bpcourse", {}).get("exercise") == key
    exercise = get_exercise(key)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        assert c.outputs == [] and c.execution_count is None, "commit notebooks without outputs"
    checks = [c for c in code if "check" in c.metadata.get("tags", [])]
    called = {m for c in checks for m in re.findall(r"check\.(q\d+)\(", c.source)}
    assert called == {q.name for q in exercise.questions}, "one check cell per question"
    for c in checks:
        assert c.source.startswith("check."), "check cells hold only the check call"
    regions = [r for c in code for r in _solution_regions(c.source)]
    assert regions, "a solution notebook marks its solutions"
    defined = {q_f for q in exercise.questions for q_f in q.funcs}
    sources = "\n".join(c.source for c in code)
    for name in defined:
        assert re.search(rf"^(def|class) {name}\b", sources, flags=re.M), f"{name} is defined at top level"
    intro = nb.cells[0].source
    assert intro.startswith(f"# Exercise {int(key[2:])} — ")
    assert f"(../notebooks/{exercise.teaches})" in intro


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_link_to_the_teaching_notebook_resolves_once_that_notebook_exists(path):
    target = get_exercise(path.name[:4]).teaches
    same_number = list((ROOT / "notebooks").glob(target[:3] + "*.ipynb"))
    if not same_number:
        pytest.skip(f"notebooks/{target[:3]}* is not written yet")
    assert (ROOT / "notebooks" / target).exists(), \
        f"{path.name} links to notebooks/{target}, but notebook {target[:2]} is {same_number[0].name}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_notebook_has_no_solution_code(path):
    exercise = _nb(ROOT / "exercises" / path.name)
    text = json.dumps(exercise.cells)
    assert BEGIN not in text and END not in text
    solution = _nb(path)
    assert len(solution.cells) == len(exercise.cells)
    stub = "raise NotImplementedError()"
    for sol_cell, ex_cell in zip(solution.cells, exercise.cells):
        regions = _solution_regions(sol_cell.source)
        outside = re.sub(rf"{re.escape(BEGIN)}.*?{re.escape(END)}", "", sol_cell.source, flags=re.S)
        assert ex_cell.source.count(stub) == outside.count(stub) + len(regions)
        assert ex_cell.metadata == sol_cell.metadata and ex_cell.get("id") == sol_cell.get("id")
        for region in regions:
            only_in_solution = [ln for ln in region.splitlines() if ln.strip() and ln not in outside]
            assert not any(ln in ex_cell.source for ln in only_in_solution)


CONTROL_FLOW = ("for ", "while ", "if ", "elif ", "else", "try", "except", "with ")


def _normalise(text):
    return re.sub(r"\s+", " ", text).strip()


def test_the_package_holds_no_copy_of_the_solutions():
    """Checks verify properties: no solution line (beyond trivial ones) appears in bpcourse/checks."""
    package = _normalise("\n".join(p.read_text(encoding="utf-8") for p in CHECKS.glob("*.py")))
    leaked = []
    for path in SOLUTIONS:
        for cell in _nb(path).cells:
            for region in _solution_regions(cell.source):
                for line in region.splitlines():
                    code = _normalise(line.split("#")[0])
                    if code.startswith(CONTROL_FLOW):        # loop headers carry no answer by themselves
                        continue
                    if len(code) >= 16 and code in package:
                        leaked.append(f"{path.name}: {code}")
    assert not leaked, leaked
