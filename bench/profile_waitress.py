"""Where a stack's time goes inside waitress's worker threads.

    python bench/profile_waitress.py                       # bare, zlib and wsgikit, /json
    python bench/profile_waitress.py --stacks bare wsgikit anchor --seconds 5
    python bench/profile_waitress.py --spy                 # and a py-spy sample of wsgikit

For each stack, waitress (4 threads, as in ``bench/load.py``) serves the stack
of ``bench/load_apps.py`` wrapped in a timer: the time spent inside the
application (the call, its body and ``close()``), as the CPU time of the
worker thread and as wall time. The load is ``bench/load.py``'s (wrk, or its
Python client; 8 connections; its headers and session cookie) for
``--seconds``, after a second of warm-up. Printed per stack: requests/s; the
server's CPU per request (all threads, /proc); inside the application: thread
CPU and wall µs per request; context switches per request (all threads); and
the same application in a loop in this process (thread CPU, median of rounds).

``zlib`` is the bare app plus one ``zlib.compress`` of its JSON body per
request, the compression a session write tries: CPython's zlib module
releases the GIL around every deflate call, and in a server whose other
threads want the GIL the call costs a hand-over and the wait to get it back.

``--spy`` (``py-spy`` on the PATH, allowed to attach to a child process)
samples the ``wsgikit`` stack under load, without stopping it, and prints the
lines its samples inside wsgikit end in, as a share of those samples.
Servers run on 127.0.0.1 and are stopped by PID.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import load  # noqa: E402
import load_apps  # noqa: E402
from harness import drain, environ, stop  # noqa: E402

App = Callable[[dict[str, Any], Any], Iterable[bytes]]
TIMING_PATH = "/__timing"


# --- inside the server: the timed application ----------------------------------------


def zlib_stack() -> App:
    """The bare app, compressing its JSON body once per request (and dropping it)."""
    inner = load_apps.bare()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = list(inner(environ, start_response))
        zlib.compress(body[0])
        return body

    return app


def build(stack: str) -> App:
    return zlib_stack() if stack == "zlib" else getattr(load_apps, stack)()


def timed_app() -> App:
    """waitress's ``--call`` factory: the stack named by ``PROFILE_STACK``, timed.

    ``GET /__timing`` answers the sums since the previous such request (and
    resets them): requests, thread CPU ns and wall ns inside the application.
    """
    inner = build(os.environ["PROFILE_STACK"])
    lock = threading.Lock()
    sums = [0, 0, 0]

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == TIMING_PATH:
            with lock:
                requests, cpu_ns, wall_ns = sums
                sums[:] = [0, 0, 0]
            data = json.dumps({"requests": requests, "cpu_ns": cpu_ns, "wall_ns": wall_ns})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [data.encode()]
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        result = inner(environ, start_response)
        try:
            body = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
        with lock:  # outside the timed region
            sums[0] += 1
            sums[1] += cpu
            sums[2] += wall
        return body

    return app


# --- driving it ---------------------------------------------------------------------


def switches(pid: int) -> int:
    """Context switches (voluntary and not) of all the process's threads so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total


def timing(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{TIMING_PATH}", timeout=10) as reply:
        data: dict[str, int] = json.loads(reply.read())
    return data


def in_server(stack: str, args: argparse.Namespace) -> dict[str, Any]:
    port = load.free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
    env["PROFILE_STACK"] = stack
    cmd = [
        sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4",
        "--no-clear-untrusted-proxy-headers", "--call", "profile_waitress:timed_app",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
        )
        try:
            load.wait_ready(port, proc, log)
            cookie = load.check(stack, port) if stack != "zlib" else ""
            load.load(port, args.path, cookie, 1, args.connections)  # warm-up
            timing(port)
            cpu0, _ = load.usage(proc.pid)
            switched = switches(proc.pid)
            spy = sampler(proc.pid, args) if args.spy and stack == "wsgikit" else None
            done, bad = load.load(port, args.path, cookie, args.seconds, args.connections)
            cpu1, _ = load.usage(proc.pid)
            switched = switches(proc.pid) - switched
            inside = timing(port)
            samples = finish_sampler(spy)
        finally:
            stop(proc, group=True)
    if bad:
        raise AssertionError(f"{stack}: {bad} responses were not 2xx")
    n = inside["requests"]
    return {
        "rate": done / args.seconds,
        "server_us": (cpu1 - cpu0) / done * 1e6,
        "cpu_us": inside["cpu_ns"] / n / 1e3,
        "wall_us": inside["wall_ns"] / n / 1e3,
        "switches": switched / done,
        "samples": samples,
    }


# --- py-spy -------------------------------------------------------------------------


def sampler(pid: int, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path] | None:
    # On the PATH, or installed next to this Python (a venv not activated).
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("py-spy is not on the PATH: no sampled profile", file=sys.stderr)
        return None
    out = Path(tempfile.mkdtemp()) / "spy.txt"
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(args.seconds) - 1))]
    cmd += ["--rate", "250", "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out


def finish_sampler(spy: tuple[subprocess.Popen[bytes], Path] | None) -> list[tuple[str, int]]:
    """(leaf line, samples) of the samples with a wsgikit frame, most first."""
    if spy is None:
        return []
    proc, out = spy
    _, err = proc.communicate(timeout=60)
    if proc.returncode or not out.exists():
        print(f"py-spy failed: {err.decode(errors='replace').strip()}", file=sys.stderr)
        return []
    raw = out.read_text()
    shutil.rmtree(out.parent, ignore_errors=True)
    return inside_wsgikit(raw)


def inside_wsgikit(raw: str) -> list[tuple[str, int]]:
    """From py-spy's raw output (``frame;frame;... count`` per line): the last
    frame of each sample that has a wsgikit frame, with its samples, most first."""
    leaves: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any("wsgikit/" in frame for frame in frames):
            leaves[frames[-1]] += int(count)
    return leaves.most_common()


# --- the same application in a loop ---------------------------------------------------


def in_loop(stack: str, args: argparse.Namespace) -> float:
    """Thread CPU µs per request of the stack called in this process."""
    app = build(stack)
    forwarded = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in load.FORWARDED.items()}
    base = environ(PATH_INFO=args.path, HTTP_ACCEPT_ENCODING="gzip", **forwarded)
    base["wsgi.multithread"] = True  # as under waitress
    cookie: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie[:] = [value.split(";", 1)[0]]
        return len

    def one() -> None:
        env = dict(base, **{"wsgi.input": io.BytesIO()})
        if cookie:
            env["HTTP_COOKIE"] = cookie[0]  # the session of the previous request
        drain(app(env, start_response))

    for _ in range(200):
        one()
    rounds = []
    for _ in range(5):
        t0 = time.thread_time()
        for _ in range(1000):
            one()
        rounds.append((time.thread_time() - t0) / 1000 * 1e6)
    return statistics.median(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", nargs="+", default=["bare", "zlib", "wsgikit"])
    parser.add_argument("--path", default="/json")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--spy", action="store_true", help="sample the wsgikit stack (py-spy)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)

    results = {stack: in_server(stack, args) for stack in args.stacks}
    loops = {stack: in_loop(stack, args) for stack in args.stacks}
    print(f"load average {load.loadavg()}; waitress, 4 threads; path {args.path}")
    print(
        "| stack | req/s | server CPU µs/req | in the app: thread CPU µs/req | wall µs/req "
        "| context switches/req | in a loop: CPU µs/req |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for stack, r in results.items():
        print(
            f"| {stack} | {r['rate']:,.0f} | {r['server_us']:.1f} | {r['cpu_us']:.1f} "
            f"| {r['wall_us']:.1f} | {r['switches']:.2f} | {loops[stack]:.1f} |"
        )
    samples: list[tuple[str, int]] = results.get("wsgikit", {}).get("samples") or []
    if samples:
        total = sum(count for _, count in samples)
        print(f"\nwsgikit: the lines its {total} samples inside wsgikit end in")
        print("| line | share |")
        print("| --- | --- |")
        for leaf, count in samples[: args.top]:
            print(f"| `{leaf}` | {count / total:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
