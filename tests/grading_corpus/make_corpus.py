"""Build the adversarial grading corpus: hostile submissions of exercise 4 (a linear layer).

    python tests/grading_corpus/make_corpus.py OUT_DIR [--gradebook PATH]

Each submission starts from the solution or the exercise notebook and adds one kind of
trouble.  ``EXPECTED`` says what the grader must report for it — the submission's status
and its total score — and why.  Exercise 4 has q1 linear_forward (1 point), q2
linear_backward (2), q3 backprop_delta (2) and q4 two_layer_backward (3), max 8; q4 calls the
other three functions, so trouble in one of them costs q4 as well.

The tests build the corpus at test time (``tests/test_grade.py``), so no hostile file is
committed; run this script by hand to look at one.
"""
from __future__ import annotations

import argparse
import base64
import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "ex04_linear_layer.ipynb"
EXERCISE = ROOT / "exercises" / "ex04_linear_layer.ipynb"
FUNCTIONS = ("linear_forward", "linear_backward", "backprop_delta", "two_layer_backward")
SIGNATURES = {"linear_forward": "X, W, b", "linear_backward": "delta, X, W", "backprop_delta": "delta_next, W_next, Z",
              "two_layer_backward": "X, W1, b1, W2, b2, dY"}


@dataclass(frozen=True)
class Expect:
    status: str
    total: float
    why: str


EXPECTED = {
    "while_true": Expect("timeout", 5, "q4 loops forever: only q4 times out"),
    "sleep_forever": Expect("timeout", 5, "q4 sleeps 1e9 s: only q4 times out"),
    "alloc_100gb": Expect("memory", 5, "q4 asks for 100 GB: MemoryError under the address-space limit"),
    "fork_bomb": Expect("timeout", 5, "q4 forks forever: contained by the process limit, killed at the timeout"),
    "print_flood": Expect("crash", 5, "q4 prints without end: stopped at the output cap"),
    "os_exit_top_level": Expect("crash", 0, "a cell calls os._exit(0): every question's process ends early"),
    "os_exit_in_function": Expect("crash", 5, "q4 calls os._exit(3)"),
    "sys_exit_top_level": Expect("ok", 8, "sys.exit() in a cell is noted, the other cells still run"),
    "raise_systemexit": Expect("ok", 3, "linear_backward raises SystemExit: q2 and q4 incorrect"),
    "keyboard_interrupt": Expect("ok", 3, "backprop_delta raises KeyboardInterrupt: q3 and q4 incorrect"),
    "segfault": Expect("crash", 5, "q4 reads address 0 with ctypes"),
    "kill_parent": Expect("ok", 5, "q4 tries to kill its parent process: not permitted in the sandbox"),
    "patch_allclose": Expect("ok", 3, "np.allclose & co. patched, linear_backward wrong: q2, q4 still 0"),
    "patch_builtins": Expect("crash", 0, "builtins patched: the child's own harness breaks, nothing scores"),
    "patch_check_module": Expect("ok", 0, "the check module patched to say 'correct', answers wrong"),
    "forge_result_message": Expect("ok", 0, "finds the nonce, writes a fabricated result, exits: judged 0"),
    "always_equal": Expect("ok", 4, "linear_forward returns an object whose __eq__ is always True"),
    "ndarray_subclass": Expect("ok", 3, "linear_backward returns an ndarray subclass that claims equality"),
    "nan_inf": Expect("ok", 3, "backprop_delta returns NaN and inf"),
    "wrong_shape": Expect("ok", 4, "linear_forward returns Z transposed"),
    "wrong_dtype": Expect("ok", 3, "linear_backward returns float32 arrays"),
    "mutates_input": Expect("ok", 6, "backprop_delta is right but overwrites its input Z"),
    "read_solutions": Expect("ok", 0, "tries to exec the reference solutions: hidden by the sandbox"),
    "fake_result_files": Expect("ok", 0, "writes grades.csv/results.json and prints fake results"),
    "edit_gradebook": Expect("ok", 0, "tries to overwrite the gradebook and the other submissions"),
    "sandbox_probe": Expect("ok", 8, "scores only if no network, private /tmp, no home, not root"),
    "threads_spam": Expect("ok", 8, "starts a thousand threads: refused by the process limit, noted"),
    "stdin_read": Expect("ok", 8, "input() at top level: EOFError, noted"),
    "top_level_loop": Expect("timeout", 0, "an endless loop in an early cell: every question times out"),
    "syntax_error": Expect("ok", 4, "linear_forward's cell does not parse: q1 and q4 score 0"),
    "deleted_cell": Expect("missing", 3, "linear_backward's cell deleted: q2 missing, q4 fails"),
    "renamed_function": Expect("missing", 4, "linear_forward renamed: q1 missing, q4 fails"),
    "duplicated_cell": Expect("ok", 8, "a wrong copy of linear_backward, then the right one: the last wins"),
    "huge_outputs": Expect("ok", 8, "the solution with 30 MB of base64 image output"),
    "caf\udce9_non_utf8_name": Expect("ok", 8, "the solution under a file name that is not UTF-8"),
    "symlink": Expect("invalid_notebook", 0, "a symbolic link to the reference solution"),
    "invalid_json": Expect("invalid_notebook", 0, "not JSON"),
    "nbformat3": Expect("invalid_notebook", 0, "an IPython 3 (nbformat 3) notebook"),
    "empty_file": Expect("invalid_notebook", 0, "zero bytes"),
    "not_a_notebook": Expect("invalid_notebook", 0, "JSON, but a list"),
    "student_without_notebook": Expect("missing", 0, "a student folder with no notebook in it"),
    "solution": Expect("ok", 8, "the reference solution, for comparison"),
    "exercise": Expect("ok", 0, "the untouched exercise notebook"),
}


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _cell(source, tags=()):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    return cell


def _index_defining(nb, name):
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and f"def {name}(" in _source(cell):
            return i
    raise KeyError(name)


def replace(nb, name, body):
    """The notebook with function ``name`` redefined by ``body`` (indented code)."""
    nb = copy.deepcopy(nb)
    src = f"def {name}({SIGNATURES[name]}):\n" + "\n".join("    " + line for line in body.strip("\n").split("\n"))
    nb["cells"][_index_defining(nb, name)]["source"] = src
    return nb


def insert_after_setup(nb, source):
    """The notebook with a new code cell right after the setup (imports) cell."""
    nb = copy.deepcopy(nb)
    nb["cells"].insert(2, _cell(source))
    return nb


def _dumps(nb):
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def build(out_dir, gradebook=None):
    """Write the corpus into ``out_dir`` (created); returns {name: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sol, ex = _load(SOLUTION), _load(EXERCISE)
    gradebook = str(gradebook or out.parent / "grades.csv")
    nbs = {
        "solution": sol,
        "exercise": ex,
        "while_true": replace(sol, "two_layer_backward", "while True:\n    pass"),
        "sleep_forever": replace(sol, "two_layer_backward", "import time\ntime.sleep(1e9)"),
        "alloc_100gb": replace(sol, "two_layer_backward", "big = np.ones(12_500_000_000)\nreturn big"),
        "fork_bomb": replace(sol, "two_layer_backward",
                             "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"),
        "print_flood": replace(sol, "two_layer_backward", "while True:\n    print('x' * 100_000)"),
        "os_exit_top_level": insert_after_setup(sol, "import os\nos._exit(0)"),
        "os_exit_in_function": replace(sol, "two_layer_backward", "import os\nos._exit(3)"),
        "sys_exit_top_level": insert_after_setup(sol, "import sys\nsys.exit()"),
        "raise_systemexit": replace(sol, "linear_backward", "raise SystemExit(0)"),
        "keyboard_interrupt": replace(sol, "backprop_delta", "raise KeyboardInterrupt"),
        "segfault": replace(sol, "two_layer_backward", "import ctypes\nreturn ctypes.string_at(0)"),
        "kill_parent": replace(sol, "two_layer_backward", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
        "patch_allclose": insert_after_setup(
            replace(sol, "linear_backward", "return np.zeros_like(X), np.zeros_like(W), np.zeros(W.shape[0])"),
            "np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
            "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None"),
        "patch_builtins": insert_after_setup(
            _all_wrong(ex),
            "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 3\n"
            "builtins.float = lambda x=0.0: 1.0\nbuiltins.abs = lambda x: 0.0"),
        "patch_check_module": insert_after_setup(
            _all_wrong(ex),
            "import bpcourse.checks._core as core, bpcourse.checks.ex04 as c\n"
            "core.judge_case = lambda q, cases, results: core.Verdict(q, core.CORRECT, n_cases=len(cases))\n"
            "core.close = lambda *a, **k: None\n"
            "for q in c.EXERCISE.questions:\n"
            "    q.judge = lambda *a, **k: None\n"
            "    q.call = lambda inputs, *f: {'Z': {'shape': [1], 'dtype': 'float64', 'data': [0.0]}}\n"),
        "forge_result_message": insert_after_setup(
            ex,
            "import gc, json, os\n"
            "cfg = next(o for o in gc.get_objects() if isinstance(o, dict) and 'nonce' in o and 'result_fd' in o)\n"
            "fake = {'status': 'returned', 'out': {'Z': {'shape': [1, 3], 'dtype': 'float64', 'data': [1.5, 1.5, 3.0]}},"
            " 'after': {}}\n"
            "payload = {'cell_errors': [], 'undefined': [], 'memory': False, 'results': [fake] * len(cfg['cases'])}\n"
            "os.write(cfg['result_fd'], (cfg['nonce'] + ' ' + json.dumps(payload) + '\\n').encode())\n"
            "os._exit(0)"),
        "always_equal": replace(sol, "linear_forward",
                                "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
                                "    __ne__ = lambda self, other: False\n    __hash__ = None\n"
                                "    shape = property(lambda self: (len(X), len(W)))\nreturn AlwaysEqual()"),
        "ndarray_subclass": replace(sol, "linear_backward",
                                    "class Sneaky(np.ndarray):\n    def __eq__(self, other):\n"
                                    "        return np.ones(np.shape(self), bool)\n"
                                    "    def __array_finalize__(self, obj):\n        pass\n"
                                    "z = lambda a: np.zeros(a.shape).view(Sneaky)\n"
                                    "return z(X), z(W), np.zeros(W.shape[0]).view(Sneaky)"),
        "nan_inf": replace(sol, "backprop_delta", "out = np.full(Z.shape, np.nan)\nout.flat[::2] = np.inf\nreturn out"),
        "wrong_shape": replace(sol, "linear_forward", "return (X @ W.T + b).T"),
        "wrong_dtype": replace(sol, "linear_backward",
                               "f = np.float32\nreturn (delta @ W).astype(f), (delta.T @ X).astype(f), delta.sum(0).astype(f)"),
        "mutates_input": replace(sol, "backprop_delta",
                                 "s = bp.activations.sigmoid(Z)\nresult = (delta_next @ W_next) * s * (1.0 - s)\n"
                                 "Z[...] = 0.0\nreturn result"),
        "read_solutions": insert_after_setup(
            ex,
            "import json, pathlib\n"
            "folder = pathlib.Path(bp.__file__).resolve().parents[1] / 'solutions'\n"
            "nb = json.loads((folder / 'ex04_linear_layer.ipynb').read_text())\n"
            "exec('\\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code'"
            " and 'def ' in ''.join(c['source'])))"),
        "fake_result_files": insert_after_setup(
            ex,
            "import json, os\n"
            "for d in ('.', '/tmp', os.environ.get('HOME', '.')):\n"
            "    try:\n"
            "        open(os.path.join(d, 'grades.csv'), 'w').write('submission,total\\nme,8\\n')\n"
            "        open(os.path.join(d, 'results.json'), 'w').write(json.dumps({'score': 8}))\n"
            "    except OSError:\n"
            "        pass\n"
            "print('0' * 32 + ' ' + json.dumps({'results': [{'status': 'returned'}]}))\n"
            "print(json.dumps({'score': 8, 'status': 'ok'}))"),
        "edit_gradebook": insert_after_setup(
            ex,
            "import os, shutil\n"
            f"gradebook = {gradebook!r}\n"
            f"corpus = {str(out.resolve())!r}\n"
            "for attempt in (lambda: open(gradebook, 'w').write('hacked\\n'),\n"
            "                lambda: shutil.rmtree(corpus),\n"
            "                lambda: open(os.path.join(corpus, 'solution.ipynb'), 'w').write('{}')):\n"
            "    try:\n"
            "        attempt()\n"
            "    except OSError:\n"
            "        pass"),
        "sandbox_probe": insert_after_setup(
            replace(sol, "linear_forward", "return X @ W.T + b if ISOLATED else X @ W.T"),
            "import os, socket\n"
            "def _network():\n"
            "    try:\n"
            "        socket.create_connection(('1.1.1.1', 53), timeout=1).close()\n"
            "        return True\n"
            "    except OSError:\n"
            "        return False\n"
            f"ISOLATED = (not _network() and os.geteuid() != 0 and not os.path.exists({str(out.resolve())!r} + '/solution.ipynb')\n"  # noqa: E501
            "            and not os.listdir('/root' if os.path.isdir('/root') else '/nonexistent-dir') == ['x'])\n"
            "ISOLATED = ISOLATED and not any(p.endswith('.ipynb') for p in os.listdir(os.path.expanduser('~')))"),
        "threads_spam": insert_after_setup(
            sol,
            "import threading, time\nthreads = []\nfor _ in range(1000):\n"
            "    t = threading.Thread(target=time.sleep, args=(0.2,))\n    t.start()\n    threads.append(t)"),
        "stdin_read": insert_after_setup(sol, "answer = input('your name? ')"),
        "top_level_loop": insert_after_setup(sol, "while True:\n    pass"),
        "syntax_error": replace(sol, "linear_forward", "return X @ W.T +* b"),
        "deleted_cell": _delete(sol, "linear_backward"),
        "renamed_function": _rename(sol, "linear_forward", "linear_fwd"),
        "duplicated_cell": _duplicate_with_wrong_first(sol, "linear_backward"),
        "huge_outputs": _with_huge_output(sol),
    }
    paths = {}
    for name, nb in nbs.items():
        paths[name] = out / f"{name}.ipynb"
        paths[name].write_text(_dumps(nb), encoding="utf-8")
    odd = os.fsencode(out) + b"/caf\xe9_non_utf8_name.ipynb"
    with open(odd, "w", encoding="utf-8") as f:
        f.write(_dumps(sol))
    paths["caf\udce9_non_utf8_name"] = Path(os.fsdecode(odd))
    paths["symlink"] = out / "symlink.ipynb"
    os.symlink(SOLUTION, paths["symlink"])
    raw = {"invalid_json": "{ this is not json", "empty_file": "",
           "not_a_notebook": "[1, 2, 3]\n",
           "nbformat3": json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "ex04"},
                                    "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1",
                                                               "language": "python", "outputs": []}]}]})}
    for name, text in raw.items():
        paths[name] = out / f"{name}.ipynb"
        paths[name].write_text(text, encoding="utf-8")
    paths["student_without_notebook"] = out / "student_without_notebook"
    paths["student_without_notebook"].mkdir()
    (paths["student_without_notebook"] / "notes.txt").write_text("I forgot to upload it.\n")
    assert set(paths) == set(EXPECTED), set(paths) ^ set(EXPECTED)
    return paths


def _all_wrong(nb):
    wrong = {"linear_forward": "return np.zeros((X.shape[0], W.shape[0]))",
             "linear_backward": "return np.ones_like(X), np.ones_like(W), np.ones(W.shape[0])",
             "backprop_delta": "return np.ones(Z.shape)",
             "two_layer_backward": "return np.ones_like(W1), np.ones_like(b1), np.ones_like(W2), np.ones_like(b2)"}
    for name, body in wrong.items():
        nb = replace(nb, name, body)
    return nb


def _delete(nb, name):
    nb = copy.deepcopy(nb)
    del nb["cells"][_index_defining(nb, name)]
    return nb


def _rename(nb, name, new):
    nb = copy.deepcopy(nb)
    cell = nb["cells"][_index_defining(nb, name)]
    cell["source"] = _source(cell).replace(f"def {name}(", f"def {new}(")
    return nb


def _duplicate_with_wrong_first(nb, name):
    i = _index_defining(nb, name)
    wrong = replace(nb, name, "return delta, delta, delta")["cells"][i]
    nb = copy.deepcopy(nb)
    nb["cells"].insert(i, wrong)
    return nb


def _with_huge_output(nb):
    nb = copy.deepcopy(nb)
    blob = base64.b64encode(os.urandom(22 * 2**20)).decode()       # ~30 MB of base64
    cell = nb["cells"][_index_defining(nb, "linear_forward")]
    cell["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": blob}}]
    return nb


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--gradebook", help="the gradebook path the 'edit_gradebook' submission attacks")
    args = p.parse_args(argv)
    for name, path in sorted(build(args.out_dir, args.gradebook).items()):
        print(f"{EXPECTED[name].status:17} {EXPECTED[name].total:>3g}  {os.fsdecode(path)}")


if __name__ == "__main__":
    main()
