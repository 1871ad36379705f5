"""Running one untrusted job in its own process: limits, bubblewrap, timeouts, capped output.

Every job is ``python -I -m bpcourse.grade._child`` in a fresh session, with a minimal
environment (no inherited secrets), its job on stdin and a private pipe for its one result
message.  On Linux with bubblewrap the process also gets:

* the whole filesystem read-only, a private size-limited ``/tmp``, a fresh ``/proc`` and ``/dev``;
* no network, its own PID/IPC/UTS namespaces, killed when the grader dies;
* the solutions folder, every submission, the grader's outputs and the home folders hidden
  behind empty mounts (the Python installation is mounted back where it lives under them);
* when the grader runs as root: a dedicated unprivileged uid per job slot, so the
  process-count limit (which root ignores) holds and a fork bomb stays contained.

Without bubblewrap the grader says so once and relies on the resource limits alone.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import selectors
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "Sandbox", "ChildOutcome", "run_child"]

UID_BASE = 1_990_000_000          # job slot k runs as uid UID_BASE + k when the grader is root
SANDBOX_WORKDIR = "/tmp/work"


@dataclass
class Limits:
    timeout: float = 20.0          # wall-clock seconds per question (a slow question gets a multiple)
    memory_mb: int = 2048          # address space
    fsize_mb: int = 16             # largest file a job may write
    tmp_mb: int = 64               # size of the private /tmp (bubblewrap)
    nproc: int = 64                # processes + threads (per job slot uid, or added to the user's count)
    nofile: int = 256
    output_mb: float = 2.0         # a job printing more than this is stopped
    result_mb: int = 64            # largest result message accepted


@dataclass
class ChildOutcome:
    status: str                    # ok | timeout | crash | memory
    payload: dict | None
    message: str = ""


def _env(workdir):
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _python_paths():
    """Folders the child's Python needs (installation, site-packages, the bpcourse package)."""
    import bpcourse
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(os.path.abspath(sys.executable)), os.path.dirname(bpcourse.__file__)}
    paths.update(site.getsitepackages())
    # sys.path, less the folder the grader was started from (`python -m` puts it first): the child
    # runs with -I, which never looks there, and mounting it could cover the private /tmp or a home
    cwd = os.path.realpath(os.getcwd())
    paths.update(p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) != cwd)
    return sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)})


def _user_process_count():
    """Processes and threads of this user now (RLIMIT_NPROC counts them all), or None without /proc."""
    if not os.path.isdir("/proc"):
        return None
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return n


def _under(path, parent):
    return path == parent or path.startswith(parent.rstrip("/") + "/")


class Sandbox:
    """How jobs are started: ``kind`` is ``"bwrap"`` or ``"none"`` (resource limits only)."""

    def __init__(self, mode="auto", hide=(), log=None, limits=None):
        if mode not in ("auto", "bwrap", "none"):
            raise ValueError(f"sandbox must be 'auto', 'bwrap' or 'none', got {mode!r}")
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.root = os.geteuid() == 0
        self.hidden = sorted({os.path.realpath(os.fsdecode(p)) for p in hide if os.path.lexists(p)} - {"/"})
        self.kind, self.reason = "none", "sandbox disabled (--sandbox none)"
        self.bwrap = shutil.which("bwrap")
        self.limits = limits or Limits()
        self._nproc_base = None if self.root else _user_process_count()
        self._args = {}
        if mode != "none":
            ok, why = self._probe()
            if ok:
                self.kind = "bwrap"
            elif mode == "bwrap":
                raise RuntimeError(f"bubblewrap sandbox requested but unusable: {why}")
            else:
                self.reason = why
        if self.kind == "none":
            extra = (" Running as root without it, the process-count limit cannot be enforced."
                     if self.root else "")
            advice = ("Install Debian's `bubblewrap` package for isolation." if not self.bwrap
                      else "Check that user namespaces are allowed here (or run as root).")
            self.log(f"bpcourse.grade: {self.reason}; grading WITHOUT a filesystem sandbox — submissions "
                     f"can read and write whatever your user can. {advice}{extra}")

    # --- bubblewrap ------------------------------------------------------------------
    def _probe(self):
        if not sys.platform.startswith("linux"):
            return False, "bubblewrap is Linux-only"
        if not self.bwrap:
            return False, "bubblewrap (bwrap) was not found on PATH"
        # what every job needs: the package, and a writable private /tmp
        cmd = self._bwrap_args() + [sys.executable, "-I", "-c",
                                    "import os, bpcourse; os.makedirs('/tmp/work/probe'); "
                                    "open('/tmp/work/probe/ok', 'w').write('ok')"]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=60, env=_env("/tmp"))
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"bubblewrap failed to start ({e})"
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip().splitlines()
            return False, (f"bubblewrap is installed but failed to start Python in the sandbox "
                           f"({err[-1] if err else 'exit ' + str(r.returncode)})")
        return True, ""

    def _bwrap_args(self, limits=None):
        tmp_mb = (limits or self.limits).tmp_mb
        if tmp_mb not in self._args:
            self._args[tmp_mb] = self._build_bwrap_args(limits)
        return list(self._args[tmp_mb])

    def _build_bwrap_args(self, limits=None):
        """The bubblewrap command line; the private /tmp gets ``limits.tmp_mb`` (the sandbox's own by default)."""
        tmp_mb = (limits or self.limits).tmp_mb
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp"]
        homes = [h for h in {"/root", os.path.expanduser("~")} if h not in ("", "/") and os.path.isdir(h)]
        hidden = sorted(set(self.hidden) | {os.path.realpath(h) for h in homes})
        args += self._hide(hidden)
        # the private /tmp hides everything below it too: a checkout or venv living in /tmp
        # (a CI runner's clone, say) must be mounted back like one under a home folder
        covered = hidden + ["/tmp"]
        # never a covered folder itself (that would undo the hiding): only what lies below it
        needed = [p for p in _python_paths() if any(_under(p, h) and p != h for h in covered)]
        needed = [p for p in needed if not any(q != p and _under(p, q) for q in needed)]
        made = set()
        for p in needed:     # mount the Python installation back, through traversable folders
            h = max((h for h in covered if _under(p, h)), key=len)
            parts = Path(p).relative_to(h).parts
            for k in range(1, len(parts)):
                d = os.path.join(h, *parts[:k])
                if d not in made:
                    made.add(d)
                    args += ["--perms", "0755", "--dir", d]
            args += ["--ro-bind", p, p]
        args += self._hide([h for h in self.hidden if any(_under(h, p) for p in needed)])
        if self.root:   # privileged bubblewrap: the child drops to its slot's uid itself
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                     "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-all"]
        args += ["--die-with-parent", "--new-session", "--chdir", "/tmp", "--"]
        return args

    @staticmethod
    def _hide(paths):
        args = []
        for p in paths:
            if os.path.isdir(p):
                args += ["--tmpfs", p]
            elif os.path.exists(p):
                args += ["--ro-bind", "/dev/null", p]
        return args

    # --- one job ---------------------------------------------------------------------
    def command(self, limits=None):
        """The job's command line; ``limits`` (default: the sandbox's) sizes the private /tmp."""
        base = [sys.executable, "-I", "-m", "bpcourse.grade._child"]
        return (self._bwrap_args(limits) + base) if self.kind == "bwrap" else base

    def describe(self):
        return "bubblewrap" if self.kind == "bwrap" else f"none ({self.reason})"

    def job_identity(self, slot, limits):
        """(drop_uid, nproc) for a job slot."""
        if self.kind == "bwrap" and self.root:
            return UID_BASE + slot, limits.nproc
        if self._nproc_base is None:
            return None, None          # root ignores RLIMIT_NPROC (and without /proc we cannot count)
        return None, self._nproc_base + limits.nproc


def run_child(sandbox, job, limits, slot=0, timeout=None):
    """Run one job (a dict: exercise, question, cases, cells) and return a ChildOutcome."""
    timeout = limits.timeout if timeout is None else timeout
    drop_uid, nproc = sandbox.job_identity(slot, limits)
    tmp = None
    if sandbox.kind == "bwrap":
        workdir = SANDBOX_WORKDIR
    else:
        tmp = tempfile.mkdtemp(prefix="bpgrade-")
        workdir = tmp
    res_r, res_w = os.pipe()
    out_r, out_w = os.pipe()
    nonce = secrets.token_hex(16)
    cpu = int(math.ceil(timeout)) + 1
    cfg = dict(job, nonce=nonce, result_fd=res_w, workdir=workdir, drop_uid=drop_uid,
               limits={"memory": limits.memory_mb * 2**20, "fsize": limits.fsize_mb * 2**20,
                       "nofile": limits.nofile, "cpu": cpu, "nproc": nproc})
    stdin = tempfile.TemporaryFile()
    stdin.write(json.dumps(cfg).encode())
    stdin.seek(0)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(sandbox.command(limits), stdin=stdin, stdout=out_w, stderr=out_w, pass_fds=(res_w,),
                                cwd=workdir if tmp else "/", env=_env(workdir), start_new_session=True,
                                close_fds=True)
    except OSError as e:
        for fd in (res_r, res_w, out_r, out_w):
            os.close(fd)
        stdin.close()
        _cleanup(tmp)
        return ChildOutcome("crash", None, f"the grader could not start a process ({e})")
    os.close(res_w)
    os.close(out_w)
    stdin.close()
    try:
        timed_out, flooded, result = _collect(proc, out_r, res_r, start + timeout, limits)
    finally:
        _kill(proc)
        os.close(out_r)
        os.close(res_r)
        _cleanup(tmp)
    return _outcome(proc.returncode, timed_out, flooded, result, nonce, timeout, limits, sandbox)


def _collect(proc, out_r, res_r, deadline, limits):
    """Read output (counted, discarded) and the result pipe until both close or time runs out."""
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ, "out")
    sel.register(res_r, selectors.EVENT_READ, "res")
    printed, result, open_pipes = 0, bytearray(), 2
    out_cap, res_cap = int(limits.output_mb * 2**20), limits.result_mb * 2**20
    exited_at = None
    while True:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
            deadline = min(deadline, now + 1.0)     # a leftover grandchild may hold the pipes open
        if not open_pipes:
            if exited_at is not None:
                return False, False, bytes(result)
            try:                                    # pipes closed, process still running
                proc.wait(timeout=max(0.0, deadline - now))
                continue
            except subprocess.TimeoutExpired:
                return True, False, bytes(result)
        if now >= deadline:
            return exited_at is None, False, bytes(result)
        for key, _ in sel.select(timeout=min(0.25, deadline - now)):
            try:
                data = os.read(key.fd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fd)
                open_pipes -= 1
            elif key.data == "out":
                printed += len(data)
                if printed > out_cap:
                    return False, True, bytes(result)
            else:
                result += data
                if len(result) > res_cap:
                    return False, False, b""


def _kill(proc):
    """Kill the job's whole process group (bubblewrap takes its namespace down with it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _cleanup(tmp):
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


_SIGNALS = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error", signal.SIGABRT: "an abort",
            signal.SIGILL: "an illegal instruction", signal.SIGFPE: "a floating-point exception",
            signal.SIGKILL: "SIGKILL", signal.SIGXFSZ: "writing a file beyond the size limit"}


def _outcome(rc, timed_out, flooded, result, nonce, timeout, limits, sandbox):
    if timed_out:
        return ChildOutcome("timeout", None, f"stopped after {timeout:g} s (wall-clock limit)")
    if flooded:
        return ChildOutcome("crash", None, f"stopped: printed more than {limits.output_mb:g} MB of output")
    payload, problem = _parse(result, nonce)
    sig = -rc if rc is not None and rc < 0 else (rc - 128 if sandbox.kind == "bwrap" and rc and rc > 128 else 0)
    if payload is not None:
        status = "memory" if payload.get("memory") is True else "ok"
        return ChildOutcome(status, payload)
    if sig == signal.SIGXCPU:
        return ChildOutcome("timeout", None, "stopped: CPU time limit reached")
    if sig:
        what = _SIGNALS.get(sig, f"signal {sig}")
        return ChildOutcome("crash", None, f"the Python process was killed by {what} before finishing")
    if problem:
        return ChildOutcome("crash", None, problem)
    if rc == 70:
        return ChildOutcome("crash", None, "the grading process itself failed while running this notebook "
                                           "(does the notebook change Python's builtins or the course package?)")
    return ChildOutcome("crash", None, f"the Python process exited (code {rc}) before grading finished; "
                                       f"does the notebook call exit() or os._exit()?")


def _parse_constant(name):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _parse(result, nonce):
    """The single ``<nonce> <json>\\n`` message, or (None, why)."""
    if not result:
        return None, None
    prefix = (nonce + " ").encode()
    if not result.startswith(prefix) or not result.endswith(b"\n") or result.count(b"\n") != 1:
        return None, "the result channel was tampered with"
    try:
        payload = json.loads(result[len(prefix):].decode("utf-8"), parse_constant=_parse_constant)
    except (ValueError, RecursionError):
        return None, "the result message was not valid JSON"
    if not isinstance(payload, dict):
        return None, "the result message was not valid JSON"
    return payload, None
