"""What every widget shares: controls, a figure drawn once and updated in place, a PNG view.

A widget is a plain Python object.  Its matplotlib ``figure`` (Agg, no pyplot, no ipympl) is
built once; every update changes the data of the existing artists (``set_data``,
``set_height``, ``set_array``...) and renders the figure to PNG bytes, which go into an
``ipywidgets.Image``.  Rendering blits: the static part (axes, ticks, labels) is drawn once and
kept as a background; each update restores it and draws only the *animated* artists on top.
The background is redrawn only when something static changed (axis limits, scales, titles), and
then only for the axes concerned when that is cheaper.  That is flicker-free, works in any
frontend, and lets a test read both the artists' data and the PNG.  Shown as the last expression
of a cell, a widget emits the live view *and* a static ``image/png`` of its current state, so
nbval, nbviewer and GitHub show a figure.
"""
from __future__ import annotations

import base64
import html
import math
import struct
import time
import zlib
from collections import OrderedDict
from contextlib import contextmanager

import ipywidgets as W
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedFormatter, NullLocator
from matplotlib.transforms import Bbox, IdentityTransform

from ..plotting import PALETTE
from ..validate import choice, int_in_range, real

__all__ = ["Widget", "log_slider", "int_slider", "float_slider", "dropdown", "toggle", "selection_slider",
           "text_box", "BLUE", "ORANGE", "GREEN", "RED", "GREY", "check_choice",
           "check_range", "check_int", "decades", "log_ylim", "nice_ceiling", "sticky_limit", "encode_png",
           "OKABE_ITO", "FONT", "style_axes", "set_title", "no_minor_ticks"]

# Okabe & Ito's colour-blind-safe palette: plotting.PALETTE plus a neutral grey for widget chrome
OKABE_ITO = {**PALETTE, "grey": "#999999"}
# the colours the explorers name (red is Okabe & Ito's vermillion)
BLUE, ORANGE, GREEN, RED, GREY = (OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "grey"))

# Font sizes in points.  The figures render at ``Widget.dpi`` = 96, so 1 pt = 4/3 px on screen:
# titles and labels 13 px, tick labels and legends 12 px.
FONT = {"title": 10, "label": 10, "tick": 9, "legend": 9, "text": 10, "small": 9}

_DESC = {"description_width": "initial"}
_WIDE = W.Layout(width="300px")


# --------------------------------------------------------------------------------------------
# argument checks: kept for widgets written before bpcourse.validate; new code calls validate
# --------------------------------------------------------------------------------------------

def check_choice(owner, what, value, choices):
    """``validate.choice`` with the owner first (the older widget signature)."""
    return choice(value, choices, what, owner)


def check_range(owner, what, value, low, high):
    """``validate.real`` with closed bounds [low, high] and the owner first."""
    return real(value, what, owner, low=low, high=high)


def check_int(owner, what, value, low, high):
    """``validate.int_in_range`` with the owner first."""
    return int_in_range(value, what, owner, low, high)


def decades(lo, hi, floor=1e-30, ceiling=1e30):
    """Whole powers of ten around [lo, hi], clamped to [floor, ceiling].

    Log-axis limits that change rarely, so the cached background is rarely redrawn.
    """
    lo = 10.0 ** math.floor(math.log10(min(max(lo, floor), ceiling / 10)))
    hi = 10.0 ** math.ceil(math.log10(min(max(hi, floor), ceiling)))
    return (lo, hi if hi > lo else lo * 10)


def log_ylim(ax, lo, hi, slack=3):
    """Set a log y-axis to whole decades around [lo, hi], but only when needed.

    The current limits are kept while they contain [lo, hi] and are at most ``slack`` decades
    wider on either side; otherwise the axis snaps to ``decades(lo, hi)`` plus one decade of
    headroom.  Moving a slider then rarely changes the axis, so the cached background survives
    (and the learner compares curves on the same scale).
    """
    want_lo, want_hi = decades(lo, hi)
    cur_lo, cur_hi = ax.get_ylim()
    room = 10.0 ** slack
    if cur_lo > 0 and cur_lo <= want_lo and want_hi <= cur_hi and cur_lo * room >= want_lo and cur_hi <= want_hi * room:
        return
    ax.set_ylim(max(want_lo / 10, 1e-30), min(want_hi * 10, 1e30))


def set_title(ax, text, **kwargs):
    """An axes title in the course's font size, at a fixed height.

    Passing ``y`` tells matplotlib the position is final, so it does not search the tick labels
    for a better one at every draw (about 4 ms per axes when the background is redrawn).
    """
    return ax.set_title(text, fontsize=kwargs.pop("fontsize", FONT["title"]), y=1.0, pad=kwargs.pop("pad", 5),
                        **kwargs)


def no_minor_ticks(ax, axis="y"):
    """Drop the minor ticks of a (log) axis: whole decades are labelled, and each minor tick
    is two lines and a label matplotlib lays out at every background redraw."""
    for a in ((ax.xaxis,) if axis == "x" else (ax.yaxis,) if axis == "y" else (ax.xaxis, ax.yaxis)):
        a.set_minor_locator(NullLocator())


def style_axes(ax, title=None, xlabel=None, ylabel=None):
    """Course fonts on one axes: title, axis labels and tick labels (see ``FONT``)."""
    if title is not None:
        set_title(ax, title)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT["label"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT["label"])
    ax.tick_params(labelsize=FONT["tick"])
    return ax


def sticky_limit(current, want, shrink=3.0):
    """An upper axis limit >= ``want`` (> 0) that changes rarely.

    Keeps ``current`` while want <= current <= shrink·want; otherwise the smallest of
    1, 1.5, 2, 3, 5, 7 (times a power of ten) that is >= want.  A limit that moves only when
    the data leave it (or shrink to a third of it) keeps the cached background, and keeps the
    scale while the learner compares settings.
    """
    if current is not None and want <= current <= shrink * want:
        return current
    return nice_ceiling(want, (1, 1.5, 2, 3, 5, 7, 10))


def nice_ceiling(x, steps=(1, 2, 5, 10)):
    """The smallest of 1, 2, 5, 10, 20, 50, ... (``steps`` times a power of ten) that is >= x (x > 0)."""
    base = 10.0 ** math.floor(math.log10(x))
    for m in steps:
        if m * base >= x:
            return m * base
    return 10 * base


# --------------------------------------------------------------------------------------------
# control factories (consistent look; continuous_update=False keeps a drag from queueing work)
# --------------------------------------------------------------------------------------------

def log_slider(description, value, low, high, fmt=".1e"):
    """A FloatLogSlider over [low, high] (powers of ten), keyboard-steppable in tenths of a decade."""
    return W.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.1,
                            description=description, readout_format=fmt, continuous_update=False,
                            style=_DESC, layout=_WIDE)


def int_slider(description, value, low, high, step=1):
    return W.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=False, style=_DESC, layout=_WIDE)


def float_slider(description, value, low, high, step, fmt=".2f"):
    return W.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         readout_format=fmt, continuous_update=False, style=_DESC, layout=_WIDE)


def dropdown(description, value, options):
    return W.Dropdown(value=value, options=options, description=description, style=_DESC, layout=_WIDE)


def toggle(description, value, options):
    return W.ToggleButtons(value=value, options=options, description=description, style=_DESC)


def selection_slider(description, value, options, wide=True):
    """A SelectionSlider over ``options`` (values, or (label, value) pairs); ``wide``: the 300 px layout."""
    return W.SelectionSlider(options=options, value=value, description=description, continuous_update=False,
                             style=_DESC, **({"layout": _WIDE} if wide else {}))


def text_box(description, value):
    """A one-line Text box that reports its value on Enter or when it loses focus."""
    return W.Text(value=value, description=description, continuous_update=False, style=_DESC, layout=_WIDE)


def _png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(rgba, level=1):
    """An (h, w, 4) uint8 RGBA canvas -> PNG bytes (8-bit RGB, no row filter, zlib ``level``).

    About twice as fast as PIL's encoder for a figure (PIL tries a filter per row), and smaller
    at level 1 because the alpha channel of an opaque figure is dropped.
    """
    h, w, _ = rgba.shape
    raw = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    raw[:, 0] = 0                                         # filter type 0 (None) for every row
    raw[:, 1:] = rgba[:, :, :3].reshape(h, 3 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)   # 8 bits, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------------
# the base class
# --------------------------------------------------------------------------------------------

class Widget:
    """Base class of the playground and the explorers.

    Subclasses create ``self.controls`` (name -> ipywidgets control), draw the figure's artists
    once in ``_build_figure``, and implement ``_compute`` (model/state from the controls) and
    ``_draw`` (push that state into the existing artists).  ``update()`` = compute + draw + PNG.
    """

    figsize = (6.4, 3.4)
    dpi = 96

    def __init__(self):
        self.controls = {}
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi)
        FigureCanvasAgg(self.figure)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.image.add_class("bp-figure")
        self.status = W.HTML(value="")
        self.png = b""            # the last rendered PNG (also self.image.value)
        self.renders = 0          # how many times the figure was rendered
        self.last_error = None    # the last exception raised by a control change (None: all fine)
        self.timings = {}         # seconds spent in the last compute / draw / render
        self.full_redraws = 0     # how many renders had to redraw the whole static background
        self.partial_redraws = 0  # how many renders redrew the background of some axes only
        self.cached_redraws = 0   # how many renders reused a background kept from an earlier state
        self.animated = []        # artists redrawn at every render (the rest is background)
        self._background = None
        self._background_key = None
        self._regions = {}        # axes -> its tight box (pixels) when its background was last drawn
        self._kept = OrderedDict()  # static key -> (background, regions), most recently used last
        self._hold = 0

    # ---- subclass hooks -------------------------------------------------------------------
    def _build_figure(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self):  # pragma: no cover - abstract
        """The numbers currently plotted, as a dict (read from the figure's artists)."""
        raise NotImplementedError

    def _layout(self):
        """The ipywidgets container; default: controls in a column left of the figure.

        When the output is narrower than controls plus figure, the figure shrinks (its ``max_width`` is
        100 %) and the controls keep their width: squeezed, their column would scroll sideways and hide the
        sliders' readouts (seen in JupyterLab with the file browser open and a 9-inch figure).
        """
        return W.HBox([W.VBox(list(self.controls.values()), layout=W.Layout(flex="0 0 auto")),
                       W.VBox([self.image, self.status], layout=W.Layout(flex="1 1 auto", min_width="0"))])

    def _on_change(self, name, change):
        """A control changed; default: recompute everything."""
        self.update()

    # ---- wiring ---------------------------------------------------------------------------
    def _finish(self):
        """Call at the end of a subclass ``__init__``: build figure and view, wire, first draw."""
        self._build_figure()
        self.view = self._layout()
        self.view.add_class("bp-widget")
        for name, control in self.controls.items():
            if hasattr(control, "value"):
                control.observe(self._make_handler(name), names="value")
        self.update()

    def _make_handler(self, name):
        def handler(change):
            if self._hold:
                return
            try:
                self._on_change(name, change)
                self.last_error = None
            except Exception as exc:   # a bad value must never leave a broken view
                self.last_error = exc
                self._show_error(f"{name} = {change['new']!r}: {type(exc).__name__}: {exc}")
        return handler

    @contextmanager
    def hold(self):
        """Change several controls at once with a single update at the end."""
        self._hold += 1
        try:
            yield self
        finally:
            self._hold -= 1
        if not self._hold:
            self._after_hold()

    def _after_hold(self):
        """What ``hold`` does once its last level ends: recompute everything from the controls."""
        self.update()

    def _set(self, name, value):
        """Set a control's value without triggering its handler."""
        self._hold += 1
        try:
            self.controls[name].value = value
        finally:
            self._hold -= 1

    # ---- update cycle ---------------------------------------------------------------------
    def update(self):
        """Recompute from the controls, push the numbers into the artists, re-render the PNG."""
        t0 = time.perf_counter()
        self._compute()
        t1 = time.perf_counter()
        self._draw()
        t2 = time.perf_counter()
        self.render()
        self.timings.update(compute=t1 - t0, draw=t2 - t1)
        return self

    def _animate(self, *artists):
        """Register artists that change at every update (drawn over the cached background)."""
        for artist in artists:
            artist.set_animated(True)
            self.animated.append(artist)
        return artists[0] if len(artists) == 1 else artists

    def _axes_key(self, ax):
        """What one axes' static drawing depends on: when it changes, that axes is redrawn."""
        return (ax.get_visible(), ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(),
                ax.get_title(), ax.get_title("left"), ax.get_title("right"), ax.get_xlabel(), ax.get_ylabel(),
                tuple(ax.get_xticks()), tuple(ax.get_yticks()), _labels_key(ax.xaxis), _labels_key(ax.yaxis))

    def _static_key(self):
        """What the background depends on: (per-axes keys, the subclass's extra key)."""
        return tuple(self._axes_key(ax) for ax in self.figure.axes), tuple(self._extra_static_key())

    def _extra_static_key(self):
        """Anything else static that a subclass changes (e.g. hand-set tick labels); a change
        redraws the whole background."""
        return ()

    KEPT_BACKGROUNDS = 6      # static backgrounds remembered per widget (about 1-3 MB each)

    def render(self, full=False):
        """Render the figure to PNG and push it into the Image control; returns the PNG bytes.

        The static background is kept between renders.  When the static part of some but not all
        axes changed (limits, scale, titles, labels, ticks) only those axes are redrawn into the
        background, provided the region they cover (their tight box before and after) touches no
        other axes and no static figure text; otherwise, or when ``full``, the whole figure is
        redrawn.  The last few backgrounds are remembered by their static key, so going back to a
        recent setting (he -> xavier -> he) restores its background instead of redrawing it; ``full``
        forgets them all.  Either way the result is the same pixels as a full redraw (tested).
        """
        t0 = time.perf_counter()
        canvas = self.figure.canvas
        axes_keys, extra = self._static_key()
        key, old = (axes_keys, extra), self._background_key
        mode, changed = "full", []
        if full:
            self._kept.clear()
        elif self._background is not None and old[1] == extra and len(old[0]) == len(axes_keys):
            changed = [ax for ax, k, k0 in zip(self.figure.axes, axes_keys, old[0]) if k != k0]
            if not changed:
                mode = "same"
            elif key in self._kept:
                mode = "kept"
            elif len(changed) < len(self.figure.axes):        # all changed: one full draw is cheaper
                mode = "partial" if self._redraw_axes(changed) else "full"
        if mode == "full":
            canvas.draw()                         # everything but the animated artists
            renderer = canvas.get_renderer()
            self._regions = {ax: ax.get_tightbbox(renderer) for ax in self.figure.axes if ax.get_visible()}
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self.full_redraws += 1
        elif mode == "partial":
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self.partial_redraws += 1
        else:
            if mode == "kept":
                self._background, regions = self._kept[key]
                self._regions = dict(regions)
                self.cached_redraws += 1
            canvas.restore_region(self._background)
        if mode in ("full", "partial"):            # a new background: remember it
            self._kept[key] = (self._background, dict(self._regions))
        self._kept.move_to_end(key)
        while len(self._kept) > self.KEPT_BACKGROUNDS:
            self._kept.popitem(last=False)
        self._background_key = key
        for artist in self.animated:
            if artist.get_visible():
                (artist.axes or self.figure).draw_artist(artist)
        self.png = encode_png(np.asarray(canvas.buffer_rgba()))
        self.image.value = self.png
        self.renders += 1
        self.timings["render"] = time.perf_counter() - t0
        return self.png

    def _redraw_axes(self, axes):
        """Redraw the static part of ``axes`` into the cached background; False if a region they
        need overlaps something else (then the caller redraws the whole figure)."""
        fig = self.figure
        renderer = fig.canvas.get_renderer()
        others = [r for ax, r in self._regions.items() if ax not in axes]
        others += [t.get_window_extent(renderer) for t in fig.texts if t.get_visible() and not t.get_animated()
                   and t.get_text()]
        others += [leg.get_window_extent(renderer) for leg in fig.legends]
        plan = []
        for ax in axes:
            new = ax.get_tightbbox(renderer) if ax.get_visible() else None
            parts = [b for b in (self._regions.get(ax), new) if b is not None]
            if not parts:
                continue
            box = Bbox.union(parts)
            pad = 3                                # antialiased edges reach a pixel or two past the box
            x0, y0 = math.floor(box.x0) - pad, math.floor(box.y0) - pad
            x1, y1 = math.ceil(box.x1) + pad, math.ceil(box.y1) + pad
            region = Bbox([[x0, y0], [x1, y1]])
            if any(region.overlaps(o) for o in others):
                return False
            plan.append((ax, region, new))
        fig.canvas.restore_region(self._background)
        for _ax, region, _new in plan:             # blank the region, then draw the axes' static part
            blank = Rectangle((region.x0, region.y0), region.width, region.height, transform=IdentityTransform(),
                              facecolor=fig.get_facecolor(), edgecolor="none", linewidth=0, antialiased=False)
            blank.set_figure(fig)
            blank.draw(renderer)
        for ax, _region, new in plan:
            if new is not None:
                ax.draw(renderer)
            self._regions[ax] = new
        return True

    def _show_error(self, text):
        self.status.value = f'<span style="color:#D55E00"><b>{html.escape(text)}</b></span>'

    # ---- display --------------------------------------------------------------------------
    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """The live view for a frontend with widgets, plus a static PNG and text for the others."""
        data = dict(self.view._repr_mimebundle_(**kwargs) or {})
        if not self.png:
            self.render()
        data["image/png"] = base64.b64encode(self.png).decode("ascii")
        data["text/plain"] = self._plain_text()
        return data

    def _plain_text(self):
        return f"<{type(self).__name__}: {len(self.controls)} controls; run in Jupyter for the live view>"

    def __repr__(self):
        return self._plain_text()

    def show(self):
        """Display the widget (same as leaving it as the last expression of a cell)."""
        from IPython.display import display
        display(self)
        return self


def _labels_key(axis):
    """Hand-set tick labels (a FixedFormatter) are part of what an axes' background shows."""
    fmt = axis.get_major_formatter()
    return tuple(fmt.seq) if isinstance(fmt, FixedFormatter) else type(fmt).__name__
