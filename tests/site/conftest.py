"""Fixtures for the website test: the built site (``make site`` writes ``_build/site``; another folder
with ``BPCOURSE_SITE_DIR``) served on a loopback port, and headless Debian Chromium (playwright) whose
every request to anything but that server is blocked and recorded.

This folder is not part of ``make test`` (it needs the built site and the ``site`` extra);
``make site-test`` builds the site and runs it, and ``.ci/run`` runs ``make site-test``.
"""
from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def pytest_configure(config):
    config.addinivalue_line("markers", "site: opens the built website in headless Chromium (make site-test)")


@pytest.fixture(scope="session")
def site_dir() -> Path:
    d = Path(os.environ.get("BPCOURSE_SITE_DIR", REPO / "_build" / "site")).resolve()
    if not (d / "index.html").exists():
        pytest.fail(f"no built site in {d}: run `make site` first (`make site-test` builds it and runs this test)",
                    pytrace=False)
    return d


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url(site_dir):
    """The site served by a threaded http.server on 127.0.0.1 (a free port), for the session."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("the site test needs Chromium: `sudo apt-get install chromium` (.ci/run does this on CI)",
                    pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
