"""Fixtures for the real-browser tests: a throw-away JupyterLab started with ``make lab`` on a
loopback port, and headless Debian Chromium driven by Python playwright.

Nothing here touches the network or the user's Jupyter settings: the server gets its own root,
settings, workspace, config, data and runtime folders under a temporary directory, no token and
no password, and listens on 127.0.0.1 only.  Teardown shuts the kernels down and kills the
server's process group.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SERVER_START_TIMEOUT = 120     # seconds; the first start of JupyterLab on a loaded machine is slow


def pytest_configure(config):
    config.addinivalue_line("markers", "ui: real-browser test (JupyterLab + headless Chromium); needs the "
                                       "Debian 'chromium' package")


def find_chromium():
    """Path of the system Chromium, or fail with how to get it (CI installs it in .ci/run)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("the browser tests need Chromium, which is not installed: install the Debian package "
                "with `sudo apt-get install chromium` (.ci/run does this on CI)", pytrace=False)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body) of a GET, or (None, error text) if the server does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def lab_venv():
    """The virtual environment ``make lab`` runs from: the repository's .venv (what ``make test`` has just
    built), or, in a checkout without one (a git worktree sharing another checkout's venv), the venv of the
    Python running these tests."""
    venv = REPO / ".venv"
    if (venv / "bin" / "jupyter").exists():
        return venv
    return Path(sys.prefix)


class LabServer:
    """``make lab`` with LAB_ARGS pointing every JupyterLab folder at a temporary directory."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "root"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "jupyterlab.log"
        self.proc = None

    def prepare(self):
        dirs = {name: self.tmp / name for name in ("root", "settings", "workspaces", "config", "data", "runtime",
                                                    "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "ui_widgets.ipynb", self.root / "ui_widgets.ipynb")
        welcome = REPO / "notebooks" / "00_welcome.ipynb"      # what `make lab` opens
        if not welcome.exists():
            pytest.fail(f"{welcome} is missing: `make lab` opens it", pytrace=False)
        (self.root / "notebooks").mkdir(exist_ok=True)
        shutil.copy(welcome, self.root / "notebooks" / welcome.name)
        # 00 links to ../exercises: the served root must reach them (make lab serves the repo root)
        (self.root / "exercises").mkdir(exist_ok=True)
        for ex in sorted((REPO / "exercises").glob("ex01_*.ipynb")):
            shutil.copy(ex, self.root / "exercises" / ex.name)
        # no news / update pop-ups over the notebook (and no network requests for them)
        notif = dirs["settings"] / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True, exist_ok=True)
        (notif / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return dirs

    def command(self, dirs):
        """``make lab`` as in the README, run in the throw-away root (a copy of the course tree).

        make -C root: ``make lab`` serves the folder it runs in (``--ServerApp.root_dir=$(CURDIR)``) and
        opens ``notebooks/00_welcome.ipynb`` there; VENV points make at the repository's .venv
        and ``-o`` stops it from rebuilding that from inside a test (make test has just done so).
        """
        lab_args = " ".join([
            "--no-browser", f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ])
        venv = lab_venv()
        return ["make", "--no-print-directory", "-C", str(dirs["root"]), "-f", str(REPO / "Makefile"),
                f"VENV={venv}", "-o", str(venv / ".installed"), "lab", f"LAB_ARGS={lab_args}"]

    def start(self):
        dirs = self.prepare()
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
                   JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), IPYTHONDIR=str(dirs["ipython"]),
                   BROWSER="true")
        env.pop("JUPYTER_TOKEN", None)
        # the kernels import this checkout's bpcourse: a worktree borrowing another checkout's venv would
        # otherwise test the package that venv's editable install points at, not its own
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        imported = subprocess.run([str(lab_venv() / "bin" / "python"), "-c", "import bpcourse; print(bpcourse.__file__)"],
                                  cwd=self.root, env=env, capture_output=True, text=True, timeout=120)
        if Path(imported.stdout.strip()).resolve() != REPO / "bpcourse" / "__init__.py":
            pytest.fail(f"a kernel of `make lab` would import bpcourse from {imported.stdout.strip()!r}, not "
                        f"{REPO / 'bpcourse'}: {imported.stderr[-2000:]}", pytrace=False)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command(dirs), cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"`make lab` exited with code {self.proc.returncode} before answering:\n{self.log_text()}",
                            pytrace=False)
            status, _ = http_get(f"{self.url}/api/status", timeout=2)
            if status == 200:
                return self
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"JupyterLab did not answer on {self.url} within {SERVER_START_TIMEOUT} s:\n{self.log_text()}",
                    pytrace=False)

    def get(self, path, timeout=10.0):
        """(status, body) of GET {url}{path}."""
        return http_get(f"{self.url}{path}", timeout=timeout)

    def log_text(self, tail=4000):
        try:
            return self.log_path.read_text()[-tail:]
        except OSError:
            return "(no log)"

    def xsrf_token(self):
        """The server's ``_xsrf`` cookie (set by the /lab page): without a token, jupyter_server refuses a
        DELETE or PUT that does not echo it in an ``X-XSRFToken`` header (403)."""
        try:
            with urllib.request.urlopen(f"{self.url}/lab", timeout=10) as r:
                cookies = r.headers.get_all("Set-Cookie") or []
        except OSError:
            return None
        for c in cookies:
            name, _, rest = c.partition("=")
            if name.strip() == "_xsrf":
                return rest.split(";")[0]
        return None

    def shutdown_kernels(self):
        """Shut every running kernel down through the REST API (a test's notebook leaves its kernel running);
        the ids of those the server did not shut down."""
        status, body = http_get(f"{self.url}/api/kernels", timeout=3)
        if status != 200:
            return []
        token = self.xsrf_token()
        headers = {"X-XSRFToken": token, "Cookie": f"_xsrf={token}"} if token else {}
        left = []
        for k in json.loads(body):
            req = urllib.request.Request(f"{self.url}/api/kernels/{k['id']}", method="DELETE", headers=headers)
            try:
                urllib.request.urlopen(req, timeout=30).close()
            except OSError:
                left.append(k["id"])
        return left

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.shutdown_kernels()                 # shut the kernels down through the API first
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.log.close()


@pytest.fixture(scope="session")
def chromium_path():
    return find_chromium()


@pytest.fixture(scope="session")
def lab(tmp_path_factory, chromium_path):
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


# ------------------------------------------------------------------------------------------------
# helpers shared by the notebook tests: a notebook's kernel, Run All, and a widget's figure
# ------------------------------------------------------------------------------------------------

def wait_kernel_idle(page, timeout=120_000):
    """The status bar goes 'No Kernel | Initializing' -> 'Python 3 (ipykernel) | Connecting' -> '| Idle'."""
    page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\(ipykernel\) \| Idle")).wait_for(timeout=timeout)
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=timeout)


def run_all_cells(page):
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def img_state(img):
    """The <img>'s src (a blob or data URL, new for every PNG) and a screenshot of its pixels."""
    return img.get_attribute("src"), img.screenshot()


def wait_changed(img, before, timeout=60.0):
    """Poll until the <img> shows a new PNG with different pixels; its new state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = img_state(img)
        if now[0] != before[0] and now[1] != before[1]:
            return now
        time.sleep(0.25)
    raise AssertionError("the plot did not change in the browser")
