"""A learner presses "Run All" twice: every notebook must give the same numbers the second time.

nbval (in `make test`) runs each notebook once on a fresh kernel.  Here each notebook runs twice
in one kernel, and every printed number, displayed value and error of the second pass must equal
the first.  That fails if a notebook draws from an unseeded or shared random generator, if a cell
changes state that an earlier cell relies on (a list that grows, a parameter trained further, a
module-level counter), or if a cell only works on a fresh kernel.  Lines that report wall-clock
times ("in 0.4 s", "1.36 ms") are the only thing left out of the comparison.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "solutions").glob("ex*.ipynb"))
_TIMING = re.compile(r"\d\s*(s|ms|µs|us|seconds|sec)\b")

pytestmark = pytest.mark.timeout(600)


def _outputs(nb):
    """{cell index: [(kind, text)]} with stream pieces joined and timing lines dropped."""
    out = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        streams, items = {}, []
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                streams[o.name] = streams.get(o.name, "") + o.text
            elif o.output_type in ("execute_result", "display_data"):
                items.append(("value", o.get("data", {}).get("text/plain", "")))
            elif o.output_type == "error":
                items.append(("error", f"{o.ename}: {o.evalue}"))
        for name, text in sorted(streams.items()):
            items.append((name, "\n".join(line for line in text.splitlines() if not _TIMING.search(line))))
        out[i] = items
    return out


def _unexpected_errors(nb):
    return [(i, o.ename, o.evalue) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and "raises-exception" not in cell.get("metadata", {}).get("tags", [])
            for o in cell.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_running_all_cells_twice_gives_the_same_outputs(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    passes = []
    with client.setup_kernel():
        for _ in range(2):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs = []
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            errors = _unexpected_errors(nb)
            assert not errors, f"pass {len(passes) + 1} of {path.name} raised: {errors[:3]}"
            passes.append(_outputs(nb))
    first, second = passes
    printed = sum(len(items) for items in first.values())
    assert printed >= 3, f"{path.name} shows almost nothing, so this comparison would prove nothing"
    changed = [(i, first[i], second[i]) for i in first if first[i] != second[i]]
    assert not changed, (f"{path.name}: the second Run All differs from the first in cell {changed[0][0]}:\n"
                         f"first:  {str(changed[0][1])[:600]}\nsecond: {str(changed[0][2])[:600]}")
