"""Where a stack's cost goes inside a real server, against the same stack in a loop.

    python bench/profile_server.py                       # bare and wsgikit, /json
    python bench/profile_server.py --stacks bare wsgikit anchor --path /html
    python bench/profile_server.py --top 40 --requests 3000

For each stack of ``bench/load_apps.py``:

1. **In the server, no profiler.** gunicorn with one sync worker (and
   ``bench/profile_hooks.py`` timing the application in the worker); a
   sequential client (one connection per request, as gunicorn's sync worker
   closes them; the headers of ``bench/load.py``: a session cookie,
   ``X-Forwarded-For``, ``Accept-Encoding: gzip``) sends ``--warmup``
   requests, then ``--requests`` more while the worker's CPU time (user +
   system, /proc) and minor page faults are counted.
2. **In the server, profiled.** The same, with ``bench/profile_hooks.py``
   running cProfile in the worker over ``--requests`` requests.
3. **In a loop.** The same stack called in-process (bench/harness-style:
   a fresh copy of an environ per call, the body iterated and closed) with
   the environ gunicorn built for the first request (captured by the hooks,
   fresh ``wsgi.input``), timed (median of ``--rounds``) and profiled.

Printed: µs per request for each stack in the loop and in the worker (and the
stack's cost over ``bare`` in both), then the functions ranked by what they
cost the profiled worker per request over the bare app's worker, with their
calls per request in the worker and in the loop, so a function that runs
more often (or only) inside the server stands out. Call counts are exact
whatever the machine's load; times under cProfile are inflated (every call
pays the profiler), so read them as ranks. All times are CPU time of the
thread (``time.thread_time``, cProfile's timer too): on a shared machine the
wall clock also counts the time spent waiting for a core. Servers run on 127.0.0.1 and are
stopped by PID.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
import load_apps  # noqa: E402
from harness import drain, stop  # noqa: E402

Key = tuple[str, int, str]


def start(
    stack: str, out: Path, mode: str, args: argparse.Namespace
) -> tuple[subprocess.Popen[bytes], int]:
    port = load.free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
    env.update(
        PROFILE_OUT=str(out),
        PROFILE_MODE=mode,
        PROFILE_WARMUP=str(args.warmup + 5),  # check() sends 5 requests first
        PROFILE_REQUESTS=str(args.requests),
    )
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "sync"]
    cmd += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    cmd += ["-c", "python:profile_hooks"]
    cmd.append(f"load_apps:{stack}()")
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process, below)
    proc = subprocess.Popen(
        cmd, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
    load.wait_ready(port, proc, log)
    return proc, port


def hammer(port: int, path: str, cookie: str, count: int) -> None:
    headers = {"Accept-Encoding": "gzip", **load.FORWARDED}
    if cookie:
        headers["Cookie"] = cookie
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise AssertionError(f"{path} answered {response.status}")


def wait_for(out: Path, before: set[Path], suffix: str) -> Path:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [p for p in set(out.iterdir()) - before if p.name.endswith(suffix)]
        if new:
            return new[0]
        time.sleep(0.1)
    raise RuntimeError(f"the worker wrote no {suffix}")


def in_server(stack: str, args: argparse.Namespace, out: Path) -> tuple[float, float, float]:
    """Worker CPU µs, CPU µs inside the application, and minor faults per
    request; no profiler."""
    before = set(out.iterdir())
    proc, port = start(stack, out, "time", args)
    try:
        cookie = load.check(stack, port)
        hammer(port, args.path, cookie, args.warmup)
        cpu0, faults0 = load.usage(proc.pid)
        hammer(port, args.path, cookie, args.requests)
        cpu1, faults1 = load.usage(proc.pid)
        timed = json.loads(wait_for(out, before, ".time.json").read_text())
    finally:
        stop(proc, group=True)
    return (
        (cpu1 - cpu0) / args.requests * 1e6,
        timed["app_ns"] / timed["requests"] / 1e3,
        (faults1 - faults0) / args.requests,
    )


def profiled_server(
    stack: str, args: argparse.Namespace, out: Path
) -> tuple[pstats.Stats, dict[str, Any], str]:
    """The worker's profile over ``--requests`` requests, the environ gunicorn
    built for the first request, and the session cookie used."""
    before = set(out.iterdir())
    proc, port = start(stack, out, "profile", args)
    try:
        cookie = load.check(stack, port)
        hammer(port, args.path, cookie, args.warmup + args.requests)
        prof = wait_for(out, before, ".prof")
    finally:
        stop(proc, group=True)
    environ = json.loads((out / f"{prof.stem}.environ.json").read_text())
    return pstats.Stats(str(prof)), environ, cookie


def loop_environ(captured: dict[str, Any], path: str, cookie: str) -> dict[str, Any]:
    env: dict[str, Any] = dict(captured)
    env["wsgi.version"] = tuple(env["wsgi.version"])
    env.update(
        {
            "PATH_INFO": path,
            "RAW_URI": path,
            "HTTP_COOKIE": cookie,
            "wsgi.errors": io.StringIO(),
            "wsgi.file_wrapper": None,
        }
    )
    env.pop("wsgi.file_wrapper")
    return env


def one_request(app: Any, base: dict[str, Any]) -> None:
    env = dict(base)
    env["wsgi.input"] = io.BytesIO()
    drain(app(env, _start_response))


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return len


def in_loop(
    stack: str, base: dict[str, Any], args: argparse.Namespace
) -> tuple[float, pstats.Stats]:
    """CPU µs per request in a loop (median of rounds), and the loop's profile."""
    app = getattr(load_apps, stack)()
    for _ in range(args.warmup):
        one_request(app, base)
    samples = []
    per_round = max(1, args.requests // args.rounds)
    for _ in range(args.rounds):
        # CPU time of this thread, not the wall clock: on a shared machine
        # the process waits for a core, and the wall clock counts the wait.
        t0 = time.thread_time()
        for _ in range(per_round):
            one_request(app, base)
        samples.append((time.thread_time() - t0) / per_round * 1e6)
    profile = cProfile.Profile(time.thread_time_ns, 1e-9)
    profile.enable()
    for _ in range(args.requests):
        one_request(app, base)
    profile.disable()
    return statistics.median(samples), pstats.Stats(profile)


def short(key: Key) -> str:
    file, line, name = key
    for prefix in (str(ROOT) + "/", "site-packages/", "lib/python3."):
        if prefix in file:
            file = file.split(prefix, 1)[1]
    return f"{file}:{line}({name})" if line else name


def per_request(stats: pstats.Stats, requests: int) -> dict[Key, tuple[float, float]]:
    """{function: (calls, own µs) per request}."""
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    return {
        key: (nc / requests, tt / requests * 1e6) for key, (cc, nc, tt, ct, callers) in raw.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", nargs="+", default=["bare", "wsgikit"])
    parser.add_argument("--path", default="/json")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", type=Path, help="keep the .prof files in this directory")
    args = parser.parse_args(argv)
    if "bare" not in args.stacks:
        args.stacks.insert(0, "bare")

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.save or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for stack in args.stacks:
            cpu, app_us, faults = in_server(stack, args, out)
            server_stats, environ, cookie = profiled_server(stack, args, out)
            base = loop_environ(environ, args.path, cookie)
            loop_us, loop_stats = in_loop(stack, base, args)
            results[stack] = {
                "server_us": cpu,
                "app_us": app_us,
                "faults": faults,
                "loop_us": loop_us,
                "server": per_request(server_stats, args.requests),
                "loop": per_request(loop_stats, args.requests),
                "environ_keys": len(environ),
            }

    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}; path {args.path}")
    print(
        "| stack | loop CPU µs/req | over bare | in the worker: app CPU µs/req | over bare "
        "| whole worker CPU µs/req | over bare | faults/req |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    bare = results["bare"]
    for stack, r in results.items():
        print(
            f"| {stack} | {r['loop_us']:.1f} | {r['loop_us'] - bare['loop_us']:+.1f} "
            f"| {r['app_us']:.1f} | {r['app_us'] - bare['app_us']:+.1f} "
            f"| {r['server_us']:.1f} | {r['server_us'] - bare['server_us']:+.1f} "
            f"| {r['faults']:.2f} |"
        )
    for stack in args.stacks:
        if stack == "bare":
            continue
        r = results[stack]
        keys = set(r["server"]) | set(bare["server"])
        rows = []
        for key in keys:
            calls, own = r["server"].get(key, (0.0, 0.0))
            bare_calls, bare_own = bare["server"].get(key, (0.0, 0.0))
            loop_calls, loop_own = r["loop"].get(key, (0.0, 0.0))
            rows.append((own - bare_own, key, calls, bare_calls, loop_calls, own, loop_own))
        rows.sort(reverse=True)
        total_server = sum(x[0] for x in rows)
        print()
        print(
            f"{stack}: functions by own time per request in the profiled worker over bare "
            f"(sum of all {total_server:+.1f} µs under cProfile)"
        )
        print(
            "| function | µs/req over bare (worker) | own µs/req loop "
            "| calls/req worker | bare worker | loop |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for extra, key, calls, bare_calls, loop_calls, _own, loop_own in rows[: args.top]:
            print(
                f"| `{short(key)}` | {extra:+.2f} | {loop_own:.2f} "
                f"| {calls:.2f} | {bare_calls:.2f} | {loop_calls:.2f} |"
            )
        # What the stack makes the worker call more often than the loop does:
        # (worker - bare worker) against the loop, per request.
        differ = [
            (calls - bare_calls - loop_calls, key, calls - bare_calls, loop_calls)
            for _, key, calls, bare_calls, loop_calls, _, _ in rows
            if abs(calls - bare_calls - loop_calls) > 0.05
        ]
        differ.sort(key=lambda x: -abs(x[0]))
        print()
        print(f"{stack}: calls per request that differ between the worker (over bare) and the loop")
        print("| function | worker over bare | loop |")
        print("| --- | --- | --- |")
        for _, key, calls, loop_calls in differ[: args.top]:
            print(f"| `{short(key)}` | {calls:.2f} | {loop_calls:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
