"""Sphinx configuration of the course website (built by ``make site``, i.e. ``python docs/site.py``).

``docs/site.py`` stages the sources (front page, notebooks/, exercises/, the guides; never solutions/)
into ``_build/site-src`` and runs Sphinx there with this file as configuration.  Design choices:

* myst-nb reads the notebooks and executes them through jupyter-cache ("cache" mode): a notebook is
  re-run only when its code changed, and any error in a cell not tagged ``raises-exception`` fails
  the build (``nb_execution_raise_on_error``).
* Nothing is loaded from outside: MathJax 2.7 is served from the copy inside the pip package
  ``jupyter-server-mathjax`` (staged by site.py into ``_static/mathjax``), the theme's fonts and
  scripts are bundled, and no ipywidgets JavaScript is loaded (myst-nb would fetch it from a CDN).
  Live widgets show their static PNG and a note on how to run them live (``WidgetsAsStillImages``).
"""
from __future__ import annotations

import os

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

project = "bpcourse: how backpropagation really works"
author = "the bpcourse authors"
copyright = "the bpcourse authors, MIT licence"
root_doc = "index"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
language = "en"

# ---- notebooks: execute once (cached), fail on any error --------------------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("BPCOURSE_SITE_CACHE", "../jupyter_cache")
nb_execution_timeout = 300          # seconds per cell; every notebook runs in < 30 s on a fresh kernel
nb_execution_allow_errors = False
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_kernel_rgx_aliases = {".*": "python3"}
# no ipywidgets JavaScript (its default comes from a CDN) and no live widget view on the site:
# the widget's static image/png is rendered instead
nb_ipywidgets_js: dict = {}
nb_mime_priority_overrides = [("html", WIDGET_VIEW, None)]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
myst_update_mathjax = False       # myst-parser would add a MathJax 3 config that stops MathJax 2 from running

# ---- math from a local MathJax 2.7 (the copy shipped in the jupyter-server-mathjax wheel) --------
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True},
    "messageStyle": "none",
    "showMathMenu": False,
    "menuSettings": {"zoom": "None"},
    # only the fonts the wheel ships; no image fonts, no font look-up anywhere else
    # MathJax's font-loading probe font points at about:blank, which Chromium refuses with a console
    # error on every page; a local() source is the same empty probe without a request.
    "HTML-CSS": {"availableFonts": [], "imageFont": None, "preferredFont": None, "webFont": "STIX-Web",
                 "linebreaks": {"automatic": True},
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
}

# ---- theme --------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "bpcourse"
html_static_path = ["_static"]
html_css_files = ["bpcourse-site.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "show_navbar_depth": 1,
}
html_context = {"default_mode": "light"}     # an empty mode makes the theme log a console error
html_sidebars = {"**": ["navbar-logo.html", "sbt-sidebar-nav.html"]}


class WidgetsAsStillImages(SphinxPostTransform):
    """A live widget's output on the site: drop its widget view (no widget JavaScript is loaded),
    keep its static image (myst-nb then renders the PNG) and add a note on how to run it live.

    Runs before myst-nb's ``SelectMimeType`` (priority 4).  Only outputs that carry both a widget view
    and a PNG get the note: those are the course's explorers (``bpcourse.widgets``); a progress bar
    (widget view + text) just loses its widget view.
    """

    default_priority = 3

    def run(self, **kwargs) -> None:
        for bundle in list(self.document.findall(nodes.container)):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            kinds = [child.get("mime_type") for child in bundle.children]
            if WIDGET_VIEW not in kinds:
                continue
            for child in list(bundle.children):
                if child.get("mime_type") == WIDGET_VIEW:
                    bundle.remove(child)
            if "image/png" in kinds:
                note = nodes.paragraph(classes=["bp-widget-note"])
                note += nodes.strong(text="Live widget. ")
                note += nodes.Text("This is a still image of its starting state. To move its controls, open "
                                   "this notebook in JupyterLab (")
                note += nodes.literal(text="make lab")
                note += nodes.Text(", Binder or a JupyterHub) and run the cells.")
                bundle.parent.insert(bundle.parent.index(bundle) + 1, note)


def drop_widget_state(app, pagename, templatename, context, doctree) -> None:
    """No ipywidgets JavaScript runs on the site, so the widgets' saved state would be dead weight."""
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [js for js in scripts
                                   if getattr(js, "attributes", {}).get("type") != "application/vnd.jupyter.widget-state+json"]


def setup(app):
    app.add_post_transform(WidgetsAsStillImages)
    app.connect("html-page-context", drop_widget_state)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
