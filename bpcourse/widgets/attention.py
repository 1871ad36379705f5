"""Inside a tiny GPT: what each head looks at, what comes next, and samples (notebook 17).

The numbers come from ``bp.nn.TinyGPT``: one forward pass of the prompt fills every head's
attention weights (``block.attn.A``, shape (1, heads, T, T)) and the logits of the last position;
``TinyGPT.generate`` samples the continuation.
"""
from __future__ import annotations

import numpy as np

from .. import data, nn
from ..activations import softmax
from ._base import BLUE, FONT, Widget, check_int, check_range, dropdown, float_slider, style_axes, text_box

__all__ = ["AttentionExplorer"]


def _show(c: str) -> str:
    return {"\n": "⏎", " ": "␣"}.get(c, c)


class AttentionExplorer(Widget):
    """A prompt box, layer and head pickers → that head's attention map over the prompt, and the
    model's next-character distribution; a temperature slider that samples a continuation.

    ``model``: a ``bp.nn.TinyGPT`` (the one trained in notebook 17) and ``vocab`` its
    ``bp.data.CharVocab``.  Without them: an untrained TinyGPT(dim=32) on tiny Shakespeare's
    characters (its heads attend almost uniformly).  Only the last ``block_size`` characters of
    the prompt are read.  Left: weights A[t, s] of the chosen head (row t = the position looking,
    column s = the position looked at).  Right: the ``TOP`` most likely next characters at the chosen
    temperature τ, p = softmax(logits / τ).  Below: ``N_NEW`` sampled characters (seed ``seed``).
    """

    figsize = (9.6, 4.3)
    TOP, N_NEW = 12, 40

    def __init__(self, model=None, vocab=None, prompt="ROMEO:\nBut soft, what light", layer=1, head=1,
                 temperature=0.8, seed=0):
        own = "AttentionExplorer"
        if model is None:
            vocab = vocab or data.CharVocab(data.load_text("shakespeare"))
            model = nn.TinyGPT(len(vocab), 32, dim=32, heads=4, layers=2, seed=0)
        if not isinstance(model, nn.TinyGPT):
            raise ValueError(f"{own}: model must be a bp.nn.TinyGPT, got {type(model).__name__}")
        if vocab is None or len(vocab) != model.vocab_size:
            raise ValueError(f"{own}: vocab must be the bp.data.CharVocab of the model's {model.vocab_size} "
                             f"tokens, got {vocab!r}")
        self.model, self.vocab = model, vocab
        n_layers, n_heads = len(model.blocks), model.heads
        check_int(own, "layer", layer, 1, n_layers)
        check_int(own, "head", head, 1, n_heads)
        temperature = check_range(own, "temperature", temperature, 0.1, 2.0)
        self.seed = check_int(own, "seed", seed, 0, 2**32 - 1)
        self._encode(prompt)                                  # a bad prompt fails here, clearly
        super().__init__()
        c = self.controls
        c["prompt"] = text_box("prompt", prompt)
        c["layer"] = dropdown("layer (block)", layer, list(range(1, n_layers + 1)))
        c["head"] = dropdown("head", head, list(range(1, n_heads + 1)))
        c["temperature"] = float_slider("temperature τ", round(temperature, 2), 0.1, 2.0, 0.05)
        self._prompt_state = None
        self._finish()

    def _encode(self, prompt):
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("AttentionExplorer: the prompt must be a non-empty str")
        ids = self.vocab.encode(prompt)                       # ValueError naming an unknown character
        return ids[-self.model.block_size:]

    # ---- figure ---------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        gs = fig.add_gridspec(1, 2, width_ratios=(1.25, 1), left=0.07, right=0.985, bottom=0.2, top=0.9,
                              wspace=0.25)
        self.ax_map, self.ax_p = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
        self._image = self.ax_map.imshow(np.zeros((2, 2)), cmap="cividis", vmin=0, vmax=1,
                                         interpolation="nearest", aspect="auto")
        style_axes(self.ax_map)
        self._bars = self.ax_p.barh(np.arange(self.TOP), np.zeros(self.TOP), color=BLUE, height=0.7)
        self.ax_p.set_xlim(0, 1)
        self.ax_p.set_ylim(self.TOP - 0.5, -0.5)
        style_axes(self.ax_p, title="next character", xlabel="probability")
        self._map_title = self.ax_map.text(0.0, 1.02, "", transform=self.ax_map.transAxes, fontsize=FONT["title"])
        self.ax_p.set_yticks(range(self.TOP), [""] * self.TOP, family="monospace")   # static: redrawn on change
        self._sample = fig.text(0.01, 0.02, "", ha="left", va="bottom", fontsize=FONT["small"], family="monospace")
        self._animate(self._image, *self._bars, self._map_title, self._sample)

    # ---- numbers --------------------------------------------------------------------------
    def _forward_prompt(self, prompt):
        """One forward pass of the prompt: every head's weights and the last position's logits (cached)."""
        if self._prompt_state is None or self._prompt_state["prompt"] != prompt:
            ids = self._encode(prompt)
            logits = self.model(ids[None])[0, -1]
            maps = [block.attn.A[0].copy() for block in self.model.blocks]      # (heads, T, T) each
            self._prompt_state = {"prompt": prompt, "ids": ids, "logits": logits, "maps": maps,
                                  "samples": {}}
        return self._prompt_state

    def _compute(self):
        c = self.controls
        prompt, layer, head, tau = (c[k].value for k in ("prompt", "layer", "head", "temperature"))
        ps = self._forward_prompt(prompt)
        p = softmax(ps["logits"] / tau)
        top = np.argsort(-p, kind="stable")[:self.TOP]
        if tau not in ps["samples"]:
            out = self.model.generate(ps["ids"][None], self.N_NEW, temperature=tau, seed=self.seed)
            ps["samples"][tau] = self.vocab.decode(out[0, len(ps["ids"]):])
        chars = [self.vocab.chars[i] for i in ps["ids"]]
        self._s = {"prompt": prompt, "chars": chars, "layer": layer, "head": head, "temperature": tau,
                   "A": ps["maps"][layer - 1][head - 1], "probs": p, "top_ids": top,
                   "top_chars": [self.vocab.chars[i] for i in top], "top_probs": p[top],
                   "continuation": ps["samples"][tau]}

    def _draw(self):
        s = self._s
        A, chars = s["A"], s["chars"]
        T = len(chars)
        self._image.set_data(A)
        self._image.set_extent((-0.5, T - 0.5, T - 0.5, -0.5))
        ax = self.ax_map
        if ax.get_xlim() != (-0.5, T - 0.5) or [t.get_text() for t in ax.get_xticklabels()] != [_show(ch) for ch in chars]:
            ax.set_xlim(-0.5, T - 0.5)
            ax.set_ylim(T - 0.5, -0.5)
            labels = [_show(ch) for ch in chars]
            ax.set_xticks(range(T), labels, fontsize=7, family="monospace")
            ax.set_yticks(range(T), labels, fontsize=7, family="monospace")
        self._map_title.set_text(f"block {s['layer']}, head {s['head']}: row = position looking, "
                                 f"column = looked at")
        for bar, p in zip(self._bars, s["top_probs"]):
            bar.set_width(float(p))
        labels = [repr(ch) for ch in s["top_chars"]]
        if [t.get_text() for t in self.ax_p.get_yticklabels()] != labels:
            self.ax_p.set_yticks(range(self.TOP), labels, family="monospace")
        top = float(s["top_probs"][0])
        self.ax_p.set_xlim(0, 1.0 if top > 0.5 else 0.5 if top > 0.2 else 0.2)
        cont = s["continuation"].replace("\n", "⏎")
        self._sample.set_text(f"τ = {s['temperature']:.2f}, sampled: {cont}")

    def _extra_static_key(self):
        return ()

    def state(self):
        s = dict(self._s)
        s["A_plotted"] = np.array(self._image.get_array())
        s["bars"] = np.array([b.get_width() for b in self._bars])
        s["bar_labels"] = [t.get_text() for t in self.ax_p.get_yticklabels()]
        s["sample_text"] = self._sample.get_text()
        return s
