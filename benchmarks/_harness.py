"""Shared helpers for the benchmarks: thread pinning, timing, machine description.

Nothing here imports numpy at module level: ``pin_threads`` must run before numpy
is first imported, because OpenBLAS/MKL/OpenMP read their thread count when they load.
"""
from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def add_timing_args(p, repeat: int, min_time: float, json_help="write the results to this JSON file"):
    """--repeat, --min-time, --quick and --json, shared by the timing benchmarks."""
    p.add_argument("--repeat", type=int, default=repeat, help=f"timed rounds per contender (default {repeat})")
    p.add_argument("--min-time", type=float, default=min_time,
                   help=f"seconds per timed round (default {min_time:g})")
    p.add_argument("--quick", action="store_true", help="few short rounds (a smoke test, not a measurement)")
    p.add_argument("--json", default=None, help=json_help)


def parse_timing_args(p, argv, quick_min_time: float):
    """Parse, apply --quick (3 rounds of quick_min_time s) and reject impossible timing options."""
    args = p.parse_args(argv)
    if args.quick:
        args.repeat, args.min_time = 3, quick_min_time
    if args.repeat < 1 or args.min_time <= 0:
        p.error(f"--repeat must be >= 1 and --min-time > 0, got {args.repeat} and {args.min_time}")
    return args


def pin_threads(n: int) -> None:
    """Make numpy's BLAS (and torch's OpenMP pool) use ``n`` threads.

    Sets the thread environment variables; if numpy was already imported (so its
    BLAS has already read them), re-executes this script with the new environment.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    want = str(n)
    if all(os.environ.get(k) == want for k in THREAD_VARS):
        return
    for k in THREAD_VARS:
        os.environ[k] = want
    if "numpy" in sys.modules:                      # too late to take effect in this process
        if os.environ.get("BPCOURSE_BENCH_REEXEC") == "1":
            raise RuntimeError("pin_threads: numpy was imported before the thread count could be set")
        os.environ["BPCOURSE_BENCH_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)


def pin_torch_threads(n: int) -> None:
    """Give torch, when it is installed, ``n`` intra-op threads and one inter-op thread."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)


def blas_threads() -> str:
    """The thread count numpy's BLAS reports (via threadpoolctl if installed), else the env value."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"{os.environ.get('OPENBLAS_NUM_THREADS', '?')} (env)"
    counts = {f"{i['internal_api']}": i["num_threads"] for i in threadpool_info()}
    return ", ".join(f"{k}={v}" for k, v in counts.items()) or "?"


# ---------------------------------------------------------------------- timing

def _time_calls(fn, number: int, charge_gc: bool = False) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    if charge_gc:
        gc.collect()
    return time.perf_counter() - t0


def calibrate(fn, min_time: float) -> int:
    """Smallest number of calls in 1, 2, 5, 10, 20, ... that takes at least ``min_time`` s (as timeit.autorange)."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            n = number * factor
            if _time_calls(fn, n) >= min_time:
                return n
        number *= 10


def measure(contenders: dict, repeat: int = 15, min_time: float = 0.1, warmup: float = 0.2,
            charge_gc: bool = False) -> dict:
    """Time each zero-argument callable; returns {name: stats dict} in seconds per call.

    Warm-up: each callable runs for about ``warmup`` seconds first.  Then ``repeat``
    rounds; in each round every contender runs its calibrated number of calls (one
    sample = mean time per call in that round).  The order of contenders rotates from
    round to round, so slow drifts of a shared machine hit all of them alike.
    Garbage collection stays on (as in real training); a full collection runs
    before each sample so that one contender's garbage is not charged to the next.
    ``charge_gc=True`` also ends each timed sample with a full collection, so a
    contender that leaves reference cycles behind pays for collecting them.
    Each result has ``gc_fraction``: the share of its timed seconds spent in the
    garbage collector (measured with ``gc.callbacks``).
    """
    names = list(contenders)
    gc_time = {name: 0.0 for name in names}
    current = {"name": None, "t0": 0.0}

    def on_gc(phase, info):                     # time spent in collections, charged to who is running
        if phase == "start":
            current["t0"] = time.perf_counter()
        elif current["name"] is not None:
            gc_time[current["name"]] += time.perf_counter() - current["t0"]

    for name in names:
        t_end = time.perf_counter() + warmup
        calls = 0
        while calls < 2 or time.perf_counter() < t_end:
            contenders[name]()
            calls += 1
    numbers = {name: calibrate(contenders[name], min_time) for name in names}
    samples = {name: [] for name in names}
    gc.callbacks.append(on_gc)
    try:
        for r in range(repeat):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                gc.collect()
                current["name"] = name
                samples[name].append(_time_calls(contenders[name], numbers[name], charge_gc) / numbers[name])
                current["name"] = None
    finally:
        gc.callbacks.remove(on_gc)
    out = {}
    for name in names:
        out[name] = summarize(samples[name], numbers[name])
        out[name]["gc_fraction"] = gc_time[name] / (sum(samples[name]) * numbers[name])
    return out


def summarize(samples, number) -> dict:
    """Median, quartiles and IQR of per-call times (seconds); ``samples`` keeps the round order."""
    s = sorted(samples)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    return {"median": statistics.median(s), "q1": q1, "q3": q3, "iqr": q3 - q1, "min": s[0],
            "repeat": len(s), "number": number, "samples": list(samples)}


def paired_ratio(num: dict, den: dict) -> float:
    """Median over rounds of num/den, each round's two samples taken side by side.

    On a shared machine a burst of load slows every contender of a round alike, so the
    per-round ratio is steadier than the ratio of the two medians."""
    return statistics.median(a / b for a, b in zip(num["samples"], den["samples"], strict=True))


def fmt_time(seconds: float) -> str:
    """1.23 ms, 45.6 µs, 2.01 s."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_stat(st: dict) -> str:
    """'1.23 ms ± 0.05' style: median and IQR in the median's unit."""
    med, iqr = st["median"], st["iqr"]
    unit, scale = (("s", 1) if med >= 1 else ("ms", 1e3) if med >= 1e-3 else ("µs", 1e6))
    return f"{med * scale:.3g} {unit} (IQR {iqr * scale:.2g})"


def fmt_optional(st: dict | None, missing: str = "not installed") -> str:
    """``fmt_stat`` of a contender's statistics, or ``missing`` when it did not run."""
    return fmt_stat(st) if st else missing


def fmt_met(met: bool | None, na: str = "n/a") -> str:
    """A target's verdict for a report table: yes, **no**, or ``na`` (could not be decided)."""
    return {True: "yes", False: "**no**", None: na}[met]


# ---------------------------------------------------------------------- machine

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    import numpy as np
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:                                      # older numpy: no mode="dicts"
        return "unknown"


def machine_info(threads: int) -> dict:
    import numpy as np
    info = {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numpy_blas": numpy_blas(), "threads": threads,
            "blas_threads": blas_threads(), "platform": platform.platform()}
    try:
        info["loadavg_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    try:
        info["cores_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["cores_usable"] = os.cpu_count()
    from importlib.metadata import PackageNotFoundError, version
    for pkg in ("torch", "micrograd"):          # versions without importing (torch's import is heavy)
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = "not installed"
    if "torch" in sys.modules:
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    return info


def numeric_header(name: str, machine: dict, threads: int) -> str:
    """The first line a BLAS-bound benchmark prints: the CPU, the thread counts, numpy's BLAS and torch."""
    return (f"# {name}: {machine['cpu']}, threads={threads} (BLAS {machine['blas_threads']}), "
            f"numpy {machine['numpy']} ({machine['numpy_blas']}), torch {machine['torch']}")


def command_line() -> str:
    return " ".join([os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable]
                    + sys.argv)


def write_json(path, payload) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)


def write_run(args, name: str, machine: dict, **payload) -> None:
    """Save one benchmark run to ``args.json`` (nothing without --json): its name, command line,
    machine and arguments, then ``payload`` (the results)."""
    write_json(args.json, {"benchmark": name, "command": command_line(), "machine": machine, "args": vars(args),
                           **payload})


def finish_report(lines, json_path, rows, target_s, met) -> int:
    """Print a single-threaded benchmark's Markdown report, save its JSON, and return its exit
    code (0 when the target was met)."""
    print("\n".join(lines))
    write_json(json_path, {"machine": machine_info(1), "command": command_line(), "rows": rows,
                           "target_s": target_s, "met": met})
    return 0 if met else 1
