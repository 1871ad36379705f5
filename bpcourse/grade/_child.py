"""The sandboxed side of the grader: run one question of one submission, report plain numbers.

Started as ``python -I -m bpcourse.grade._child`` with the job on stdin (JSON).  Before any
learner code runs it applies the resource limits, drops root (when the sandbox started it as
root), builds every case's inputs and keeps its own references to what it needs.  Then it
runs the notebook's cells, calls the learner's functions on the cases, converts the answers
to plain JSON numbers and writes ONE message, ``<nonce> <json>\\n``, to the result pipe.

Nothing here is trusted by the parent: it re-derives every expected value itself, so learner
code that tampers with this process can only change numbers that are then checked.
"""
import os
import sys


def _limits(cfg):
    import resource
    lim = cfg["limits"]
    pairs = [(resource.RLIMIT_AS, lim["memory"]), (resource.RLIMIT_FSIZE, lim["fsize"]),
             (resource.RLIMIT_NOFILE, lim["nofile"]), (resource.RLIMIT_CORE, 0)]
    for res, value in pairs:
        resource.setrlimit(res, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 1))


def _drop_privileges(cfg, workdir):
    uid = cfg.get("drop_uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.makedirs(workdir, exist_ok=True)
    if cfg["limits"].get("nproc"):
        import resource
        n = cfg["limits"]["nproc"]
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    try:                                   # no setuid binary may give privileges back
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)   # PR_SET_NO_NEW_PRIVS
    except Exception:
        pass


def _error(e, cell_index=None):
    import traceback
    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if frame.filename.startswith("<cell "):
            line = frame.lineno
    try:
        message = str(e)[:300]
    except Exception:
        message = ""
    return {"cell": cell_index, "line": line, "error": type(e).__name__, "message": message}


def main():
    import builtins
    import json
    import types

    write, exit_, getpid = os.write, os._exit, os.getpid
    cfg = json.loads(sys.stdin.buffer.read())
    fd, nonce, main_pid = cfg["result_fd"], cfg["nonce"], getpid()
    workdir = cfg["workdir"]
    _limits(cfg)
    _drop_privileges(cfg, workdir)
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)

    import importlib

    from bpcourse.checks._core import run_case
    from bpcourse.notebook_source import strip_magics
    module = importlib.import_module(f"bpcourse.checks.{cfg['exercise']}")
    question = module.EXERCISE.question(cfg["question"])
    inputs = [question.inputs(case) for case in cfg["cases"]]       # before any learner code runs
    dumps, compile_, exec_ = json.dumps, builtins.compile, builtins.exec

    main_module = types.ModuleType("__main__")
    main_module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main_module
    ns = main_module.__dict__
    ns.update(display=_display, get_ipython=_get_ipython)     # names a notebook kernel provides
    cell_errors, memory = [], False
    for cell in cfg["cells"]:
        try:
            exec_(compile_(strip_magics(cell["source"]), f"<cell {cell['index']}>", "exec"), ns)
        except BaseException as e:  # noqa: B902 - SystemExit, KeyboardInterrupt: note them, go on
            if getpid() != main_pid:
                exit_(0)
            cell_errors.append(_error(e, cell["index"]))
            memory = memory or isinstance(e, MemoryError)
    if getpid() != main_pid:               # a process the learner forked never reports
        exit_(0)

    undefined = [name for name in question.funcs if not callable(ns.get(name))]
    results = None
    if not undefined:
        funcs = [ns[name] for name in question.funcs]
        results = []
        for case_inputs in inputs:
            result = run_case(question, funcs, case_inputs, catch=BaseException)
            if getpid() != main_pid:
                exit_(0)
            memory = memory or result.get("error") in ("MemoryError", "_ArrayMemoryError")
            results.append(result)
            if result["status"] != "returned":
                break
    payload = {"cell_errors": cell_errors[:20], "undefined": undefined, "results": results, "memory": memory}
    try:
        data = (nonce + " " + dumps(payload, allow_nan=True) + "\n").encode()
    except BaseException:  # noqa: B902
        data = (nonce + " " + dumps({"cell_errors": cell_errors[:20], "undefined": undefined,
                                     "results": None, "memory": memory, "unencodable": True}) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]
    exit_(0)


def _display(*objects, **kwargs):
    """IPython's display(): nothing to show here."""


class _Shell:
    """Enough of get_ipython() for notebook code: every method does nothing and returns None."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _get_ipython():
    return _Shell()


if __name__ == "__main__":
    try:
        main()
    except BaseException as e:  # noqa: B902 - the harness itself failed: say so on stderr
        try:
            sys.stderr.write(f"bpcourse.grade child: {type(e).__name__}: {e}\n")
        finally:
            os._exit(70)
