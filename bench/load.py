"""Load benchmark: the whole stack inside a real server, against the bare app,
a bare app that gzips itself, and the anchor stack, in one run.

    python bench/load.py                          # gunicorn and waitress, JSON and HTML
    python bench/load.py --servers gunicorn --responses json --rounds 5 --duration 5
    python bench/load.py --json                   # machine-readable

For each server (gunicorn with 2 sync workers, waitress with 4 threads) the
four stacks of ``bench/load_apps.py`` are started at once on free 127.0.0.1
ports; then, round after round, the same load (``wrk``, 1 thread, 8
keep-alive connections, ``--duration`` seconds; a threaded Python client when
``wrk`` is missing) is sent to each in turn, the order rotated every round so
no stack always runs first. Every response is checked before and after the
load: status 200, the session cookie accepted (its counter goes up), the HTML
body equal to the original after gunzip. The load itself must see no non-2xx
response.

Reported per server and response: requests/s (median of the rounds and the
spread), each stack's ratio to the bare app *per round* (median), wsgikit /
anchor per round, and the server's CPU time per request (user + system of the
server and its workers, from /proc), which is what the middleware costs a
server whatever the client does. Servers are stopped by PID at the end, also on
errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import load_apps  # noqa: E402

STACKS = ("bare", "selfgzip", "wsgikit", "anchor")
SESSION_STACKS = ("wsgikit", "anchor")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(server: str, stack: str, port: int) -> list[str]:
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            f"load_apps:{stack}()",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4",
        "--call", f"load_apps:{stack}",
    ]  # fmt: skip


@contextmanager
def servers(server: str, stacks: tuple[str, ...]) -> Iterator[dict[str, tuple[int, int]]]:
    """Start one server per stack; yield ``{stack: (port, pid)}``; stop them by PID."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    # The servers' logs go to a file: a pipe nobody reads fills up (waitress
    # warns about its queue depth under load) and then blocks the server.
    with tempfile.TemporaryFile() as log:
        try:
            for stack in stacks:
                ports[stack] = free_port()
                procs[stack] = subprocess.Popen(
                    command(server, stack, ports[stack]), cwd=HERE, env=env,
                    stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
                )  # fmt: skip
            for stack in stacks:
                wait_ready(ports[stack], procs[stack], log)
            yield {stack: (ports[stack], procs[stack].pid) for stack in stacks}
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_ready(
    port: int, proc: subprocess.Popen[bytes], log: IO[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")
            raise RuntimeError(f"server on port {port} exited:\n{err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


# --- checking responses ---------------------------------------------------------


def get(port: int, path: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    # A server that just shed a load may take a moment on a busy machine.
    for attempt in range(3):
        try:
            return _get(port, path, cookie)
        except TimeoutError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _get(port: int, path: str, cookie: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Accept-Encoding": "gzip"}
    if cookie:
        headers["Cookie"] = cookie
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def check(stack: str, port: int) -> str:
    """Check a stack's answers; return the Cookie header to load it with."""
    status, headers, body = get(port, "/html")
    if status != 200:
        raise AssertionError(f"{stack}: /html answered {status}")
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    elif stack != "bare":
        raise AssertionError(f"{stack}: /html was not gzipped")
    if body != load_apps.HTML:
        raise AssertionError(f"{stack}: /html body differs from the original")
    cookie, visits = "", 0
    for _ in range(3):
        status, headers, body = get(port, "/json", cookie)
        if status != 200:
            raise AssertionError(f"{stack}: /json answered {status}")
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        data = json.loads(body)
        if stack in SESSION_STACKS:
            if data["visits"] != visits + 1:
                raise AssertionError(f"{stack}: session cookie not accepted ({data})")
            visits = data["visits"]
            cookie = headers["set-cookie"].split(";", 1)[0]
    return cookie


# --- load -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and all its descendants, live or reaped."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def load(port: int, path: str, cookie: str, seconds: float, connections: int) -> tuple[int, int]:
    """Send the load; return (requests done, non-2xx responses)."""
    wrk = shutil.which("wrk")
    if wrk:
        args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        args += ["-H", "Accept-Encoding: gzip"]
        if cookie:
            args += ["-H", f"Cookie: {cookie}"]
        args.append(f"http://127.0.0.1:{port}{path}")
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return done, int(bad.group(1)) if bad else 0
    return python_load(port, path, cookie, seconds, connections)


def python_load(
    port: int, path: str, cookie: str, seconds: float, connections: int
) -> tuple[int, int]:
    """The fallback client: ``connections`` threads, each on one keep-alive connection."""
    counts = [0] * connections
    bad = [0] * connections
    deadline = time.monotonic() + seconds
    headers = {"Accept-Encoding": "gzip", **({"Cookie": cookie} if cookie else {})}

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while time.monotonic() < deadline:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                counts[slot] += 1
                if not 200 <= response.status < 300:
                    bad[slot] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), sum(bad)


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for server in args.servers:
        with servers(server, STACKS) as running:
            cookies = {stack: check(stack, port) for stack, (port, _) in running.items()}
            for response in args.responses:
                path = f"/{response}"
                rates: dict[str, list[float]] = {stack: [] for stack in STACKS}
                cpu: dict[str, list[float]] = {stack: [] for stack in STACKS}
                for round_ in range(args.rounds):
                    order = STACKS[round_ % len(STACKS) :] + STACKS[: round_ % len(STACKS)]
                    for stack in order:
                        port, pid = running[stack]
                        before = cpu_seconds(pid)
                        start = time.perf_counter()
                        done, bad = load(
                            port, path, cookies[stack], args.duration, args.connections
                        )
                        elapsed = time.perf_counter() - start
                        used = cpu_seconds(pid) - before
                        if bad:
                            raise AssertionError(f"{server} {stack} {path}: {bad} non-2xx")
                        rates[stack].append(done / elapsed)
                        cpu[stack].append(used / done * 1e6)
                for stack in STACKS:
                    check(stack, running[stack][0])  # still right after the load
                rows.append(summary(server, response, rates, cpu))
    return rows


def summary(
    server: str, response: str, rates: dict[str, list[float]], cpu: dict[str, list[float]]
) -> dict[str, object]:
    def per_round(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))

    return {
        "server": server,
        "response": response,
        "req_s": {s: round(statistics.median(v)) for s, v in rates.items()},
        "req_s_spread": {s: [round(min(v)), round(max(v))] for s, v in rates.items()},
        "cpu_us_per_req": {s: round(statistics.median(v), 1) for s, v in cpu.items()},
        "wsgikit/bare": round(per_round("wsgikit", "bare"), 3),
        "anchor/bare": round(per_round("anchor", "bare"), 3),
        "wsgikit/anchor": round(per_round("wsgikit", "anchor"), 3),
        "selfgzip/anchor": round(per_round("selfgzip", "anchor"), 3),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    print(
        "| server | response | bare req/s | wsgikit req/s | anchor req/s | wsgikit/bare "
        "| anchor/bare | wsgikit/anchor | selfgzip/anchor | CPU µs/req bare / wsgikit / anchor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        rate = row["req_s"]
        cpu = row["cpu_us_per_req"]
        assert isinstance(rate, dict) and isinstance(cpu, dict)
        print(
            f"| {row['server']} | {row['response']} | {rate['bare']} | {rate['wsgikit']} "
            f"| {rate['anchor']} | {row['wsgikit/bare']} | {row['anchor/bare']} "
            f"| {row['wsgikit/anchor']} | {row['selfgzip/anchor']} "
            f"| {cpu['bare']} / {cpu['wsgikit']} / {cpu['anchor']} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", nargs="+", default=["gunicorn", "waitress"])
    parser.add_argument("--responses", nargs="+", default=["json", "html"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
