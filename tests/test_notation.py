"""docs/notation.md gives one symbol per meaning; these tests fail if one of the clashes it removed comes back.

Scanned: the text of every cell of the teaching notebooks, the solutions and the generated exercises, and every
module of the package (docstrings, comments, figure labels and messages alike).  Each pattern matches only the
retired use of a symbol, so the symbol's proper use stays allowed: $L$ is the number of layers ($\\delta^L$,
$l = 1, \\dots, L$) but never the loss ($\\partial L$, $\\nabla L$, dL/dx); $\\lambda$ is a curvature
($\\eta\\lambda < 2$) but never a penalty strength ($\\lambda W$).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTATION = ROOT / "docs" / "notation.md"

NOT_AFTER = r"(?![A-Za-z_'])"
CLASHES = {
    # the loss is C; L counts layers
    "the loss written L": re.compile(
        r"(?:\\partial\s*|∂|\\nabla(?:_\{[^}]*\}|_\\text\{[^}]*\}|_\\?[A-Za-z]+)?\s*|∇(?:_[A-Za-z])?\s*"
        r"|(?<![A-Za-z\\])d|\\frac\{d|\\tilde\s*)L" + NOT_AFTER),
    # the number of classes is K
    "the number of classes written C": re.compile(
        r"\$C\$ classes|\$C\$ \*\*logits|\\ln C\b|\\frac1C|1/C\b|logits \(N, C\)|\(N, C\) logits|\[0, C\)"),
    # a penalty strength is alpha; lambda is a curvature
    "a penalty written λ": re.compile(
        r"\\lambda\s*W\b|\\lambda\s*\\,?\s*\\(?:mathrm|operatorname)\{sign\}|\\frac\{?\\lambda(?:_\d)?\}?\{?2\}?\s*"
        r"(?:\\sum|\\lVert|\\\|)|\\lambda\s*\\lVert\s*x|2\\lambda x|λ[₁₂]?\s*(?:·\s*W|·\s*sign|Σ|‖x‖)"),
    # the clipping threshold is tau
    "a clipping threshold written c": re.compile(
        r"(?:\\rVert|‖|\\\|)\s*(?:>|<|\\le|\\ge|≤|≥)\s*c" + NOT_AFTER + r"|threshold c\b|max_norm\s*=\s*c\b|c\s*/\s*‖g‖"),
    # the learning rate is eta (Goh's Distill article calls it alpha; alpha is a penalty strength here)
    "the learning rate written α": re.compile(r"\\alpha\s*\\lambda|αλ|learning rate (?:\$\\alpha\$|α)"),
    # J^l = dz^{l+1}/dz^l = w^{l+1} diag(sigma'(z^l)); its transpose is what BP2 multiplies by
    "J^l written as its transpose": re.compile(
        r"J\^\{?l\}?\s*=\s*(?:\\operatorname\{diag\}|\\mathrm\{diag\}|diag|\\Sigma|\(w\^\{l\+1\}\)\^)"),
}


def _sources():
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for i, cell in enumerate(cells):
                yield f"{path.relative_to(ROOT)} cell {i}", "".join(cell["source"])
    for path in sorted((ROOT / "bpcourse").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


SOURCES = list(_sources())


@pytest.mark.parametrize("clash", sorted(CLASHES))
def test_no_retired_symbol_is_used(clash):
    pattern = CLASHES[clash]
    found = [f"{where}: ...{text[max(m.start() - 30, 0):m.end() + 30]!r}..."
             for where, text in SOURCES for m in pattern.finditer(text)]
    assert not found, f"{clash} (see docs/notation.md) in {len(found)} place(s):\n" + "\n".join(found[:20])


@pytest.mark.parametrize("clash, retired, allowed", [
    ("the loss written L", [r"$\partial L/\partial w$", r"\nabla_x L", "‖∂L/∂h_t‖", "dL/dx", r"\frac{dL}{dv}",
                            r"\tilde L", r"\nabla_\text{batch} L"],
     [r"\delta^L = a^L - y", r"l = 1, \dots, L", r"\partial C/\partial z^L", "$L$ layers", "L1 and L2"]),
    ("the number of classes written C", ["For $C$ classes", r"$\ln C$", "logits (N, C)"],
     [r"$\ln K$", "(N, C, H, W)", r"\partial C/\partial z"]),
    ("a penalty written λ", [r"\frac{\lambda}{2}\sum_l", r"\lambda W", r"\lambda\,\mathrm{sign}(W)", "λ₂·W",
                             r"S_c(x) - \lambda\lVert x\rVert"],
     [r"\eta\lambda < 2", r"C(w) = \frac{\lambda}{2} w^2", r"\lambda w", r"\lambda_{\max}"]),
    ("a clipping threshold written c", [r"\lVert g\rVert > c", "‖g‖ ≤ c return", "clip threshold c"],
     [r"\lVert g\rVert > \tau", "class c = 3", r"c_t = f_t \odot c_{t-1}"]),
    ("the learning rate written α", [r"$0 < \alpha\lambda < 2$", "αλ_max = 3", "learning rate α"],
     [r"\eta\lambda < 2", r"w \leftarrow (1-\eta\alpha)w", "learning rate η"]),
    ("J^l written as its transpose", [r"J^l = \operatorname{diag}(\sigma'(z^l))\,(w^{l+1})^\mathsf{T}"],
     [r"J^l = w^{l+1}\,\operatorname{diag}(\sigma'(z^l))", r"(J^l)^\mathsf{T}\delta^{l+1}"]),
])
def test_each_pattern_catches_the_retired_use_and_only_that(clash, retired, allowed):
    pattern = CLASHES[clash]
    assert all(pattern.search(text) for text in retired), [t for t in retired if not pattern.search(t)]
    assert not any(pattern.search(text) for text in allowed), [t for t in allowed if pattern.search(t)]


def test_the_notation_page_names_each_symbol_and_is_linked_from_the_readme_and_notebook_00():
    page = NOTATION.read_text(encoding="utf-8")
    for row in (r"| $L$ | the number of layers", r"| $C$ | the cost", r"| $K$ | number of classes",
                r"| $\alpha$ | strength of an L1/L2 penalty", r"| $\tau$ | clipping threshold",
                r"| $\lambda$ | a curvature", r"| $J^l = \partial z^{l+1}/\partial z^l$"):
        assert row in page, row
    assert "docs/notation.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    welcome = json.loads((ROOT / "notebooks" / "00_welcome.ipynb").read_text(encoding="utf-8"))
    assert any("../docs/notation.md" in "".join(c["source"]) for c in welcome["cells"])
