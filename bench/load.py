"""Load benchmark: the whole stack inside a real server, against the bare app,
a bare app that gzips itself, and the anchor stack, in one run.

    python bench/load.py                          # gunicorn and waitress, JSON and HTML
    python bench/load.py --servers gunicorn --responses json --rounds 5 --duration 5
    python bench/load.py --json                   # machine-readable
    python bench/load.py --responses html --compress isal:1   # wsgikit with a fast deflate
    python bench/load.py --responses html --page pydoc        # a real page instead of word rows

For each server (gunicorn with 2 sync workers, waitress with 4 threads) the
four stacks of ``bench/load_apps.py`` are started at once on free 127.0.0.1
ports; then, round after round, the same load (``wrk``, 1 thread, 8
keep-alive connections, ``--duration`` seconds; a threaded Python client when
``wrk`` is missing) is sent to each in turn, the order rotated every round so
no stack always runs first. Every response is checked before and after the
load: status 200, the session cookie accepted (its counter goes up), the HTML
body equal to the original after gunzip. The load itself must see no non-2xx
response.

Every request carries ``X-Forwarded-For``/``X-Forwarded-Proto`` (one proxy in
front), so the ProxyFix layers work; ``GET /whoami`` checks that the app sees
the forwarded address (waitress is told not to clear those headers).

Reported per server and response: requests/s (median of the rounds), each
stack's ratio to the bare app *per round* (and their median), wsgikit /
anchor per round, the server's CPU time per request (user + system of the
server and its workers, from /proc), which is what the middleware costs a
server whatever the client does, the server's minor page faults per request
(memory the allocator handed back to the kernel and takes again), and the
machine's load average during the run. Servers are stopped by PID at the end, also on
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import load_apps  # noqa: E402
from harness import stop  # noqa: E402

STACKS = ("bare", "selfgzip", "wsgikit", "anchor")
SESSION_STACKS = ("wsgikit", "anchor")
PROXY_STACKS = ("wsgikit", "anchor")  # the stacks with a ProxyFix
TICKS = os.sysconf("SC_CLK_TCK")
# Every request (checks and load) comes "through one proxy", so both ProxyFix
# layers do their work instead of passing the request straight on.
CLIENT = "203.0.113.7"
FORWARDED = {"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https"}


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
    # waitress clears X-Forwarded-* from untrusted peers by default (and then
    # no ProxyFix sees them): keep them, as a deployment that lets a WSGI
    # ProxyFix do the job must.
    return [
        sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4",
        "--no-clear-untrusted-proxy-headers", "--call", f"load_apps:{stack}",
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
            stop(*procs.values(), group=True)


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
    headers = {"Accept-Encoding": "gzip", **FORWARDED}
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
    if body != load_apps.page():
        raise AssertionError(f"{stack}: /html body differs from the original")
    status, headers, body = get(port, "/whoami")
    if headers.get("content-encoding") == "gzip":  # paste.gzipper gzips any size
        body = gzip.decompress(body)
    seen = json.loads(body)
    # Without a ProxyFix the app sees the peer; the scheme is not checked
    # there: gunicorn applies X-Forwarded-Proto itself from 127.0.0.1.
    want = (CLIENT, "https") if stack in PROXY_STACKS else ("127.0.0.1", seen["scheme"])
    if status != 200 or (seen["remote"], seen["scheme"]) != want:
        raise AssertionError(f"{stack}: the app saw {seen}, not {want}")
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


def usage(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, minor page faults) of the server ``pid`` and
    all its workers, live or reaped.

    The server leads its own session (``start_new_session``), so its workers
    are the processes of session ``pid``, found without walking
    ``/proc/PID/task/*/children`` (a file only kernels built with
    ``CONFIG_PROC_CHILDREN`` have).
    """
    cpu, faults = 0.0, 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) != pid:  # field 6, the session ID
            continue
        cpu += sum(int(x) for x in fields[11:15]) / TICKS  # utime stime cutime cstime
        faults += int(fields[7]) + int(fields[8])  # minflt cminflt
    return cpu, faults


def loadavg() -> float:
    """The machine's 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def load(port: int, path: str, cookie: str, seconds: float, connections: int) -> tuple[int, int]:
    """Send the load; return (requests done, non-2xx responses)."""
    wrk = shutil.which("wrk")
    if wrk:
        args = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        args += ["-H", "Accept-Encoding: gzip"]
        for name, value in FORWARDED.items():
            args += ["-H", f"{name}: {value}"]
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
    """The fallback client (no ``wrk``), with the headers of every request."""
    headers = {"Accept-Encoding": "gzip", **FORWARDED, **({"Cookie": cookie} if cookie else {})}
    return harness.python_load(port, path, headers, seconds, connections)


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for server in args.servers:
        with servers(server, STACKS) as running:
            cookies = {stack: check(stack, port) for stack, (port, _) in running.items()}
            for response in args.responses:
                path = f"/{response}"
                rates: dict[str, list[float]] = {stack: [] for stack in STACKS}
                cpu: dict[str, list[float]] = {stack: [] for stack in STACKS}
                faults: dict[str, list[float]] = {stack: [] for stack in STACKS}
                loads: list[float] = [loadavg()]
                for round_ in range(args.rounds):
                    order = STACKS[round_ % len(STACKS) :] + STACKS[: round_ % len(STACKS)]
                    for stack in order:
                        port, pid = running[stack]
                        cpu_before, faults_before = usage(pid)
                        start = time.perf_counter()
                        done, bad = load(
                            port, path, cookies[stack], args.duration, args.connections
                        )
                        elapsed = time.perf_counter() - start
                        cpu_after, faults_after = usage(pid)
                        if bad:
                            raise AssertionError(f"{server} {stack} {path}: {bad} non-2xx")
                        rates[stack].append(done / elapsed)
                        cpu[stack].append((cpu_after - cpu_before) / done * 1e6)
                        faults[stack].append((faults_after - faults_before) / done)
                        loads.append(loadavg())
                for stack in STACKS:
                    check(stack, running[stack][0])  # still right after the load
                rows.append(
                    summary(
                        server,
                        response,
                        rates,
                        cpu,
                        faults,
                        loads,
                        page=args.page if response == "html" else None,
                        compress=args.compress,
                    )
                )
    return rows


RATIOS = (("wsgikit", "bare"), ("anchor", "bare"), ("wsgikit", "anchor"), ("selfgzip", "anchor"))


def summary(
    server: str,
    response: str,
    rates: dict[str, list[float]],
    cpu: dict[str, list[float]],
    faults: dict[str, list[float]],
    loads: list[float],
    *,
    page: str | None = None,
    compress: str | None = None,
) -> dict[str, object]:
    """One row: medians, spreads, and each ratio per round (the two stacks of a
    ratio ran back to back in the same round, so the ratio survives a
    machine whose load changes between rounds better than the rates do).
    ``page`` and ``compress`` say what ``--page`` and ``--compress`` were."""

    def per_round(a: str, b: str) -> list[float]:
        return [round(x / y, 3) for x, y in zip(rates[a], rates[b], strict=True)]

    row: dict[str, object] = {
        "server": server,
        "response": response,
        "page": page,
        "compress": compress,
        "req_s": {s: round(statistics.median(v)) for s, v in rates.items()},
        "req_s_spread": {s: [round(min(v)), round(max(v))] for s, v in rates.items()},
        "cpu_us_per_req": {s: round(statistics.median(v), 1) for s, v in cpu.items()},
        "cpu_us_per_req_rounds": {s: [round(x, 1) for x in v] for s, v in cpu.items()},
        "minflt_per_req": {s: round(statistics.median(v), 2) for s, v in faults.items()},
        "loadavg": [min(loads), max(loads)],
    }
    for a, b in RATIOS:
        rounds = per_round(a, b)
        row[f"{a}/{b}"] = round(statistics.median(rounds), 3)
        row[f"{a}/{b} rounds"] = rounds
    return row


def _response(row: dict[str, object]) -> str:
    """The response column: the path, and the page and engine when chosen."""
    text = str(row["response"])
    if row.get("page"):
        text += f", {row['page']} page"
    if row.get("compress"):
        text += f", --compress {row['compress']}"
    return text


def print_table(rows: list[dict[str, object]]) -> None:
    """Two Markdown tables: rates and ratios (median, then each round), and the
    server's cost per request."""
    print(
        "| server | response | bare req/s | "
        + " | ".join(f"{a}/{b} (rounds)" for a, b in RATIOS)
        + " |"
    )
    print("| --- | --- | --- |" + " --- |" * len(RATIOS))
    for row in rows:
        rate = row["req_s"]
        assert isinstance(rate, dict)
        cells = []
        for a, b in RATIOS:
            rounds = row[f"{a}/{b} rounds"]
            assert isinstance(rounds, list)
            cells.append(f"{row[f'{a}/{b}']} ({' '.join(f'{x:.2f}' for x in rounds)})")
        print(
            f"| {row['server']} | {_response(row)} | {rate['bare']} | " + " | ".join(cells) + " |"
        )
    print()
    print(
        "| server | response | CPU µs/req " + " / ".join(STACKS) + " | minor faults/req "
        + " / ".join(STACKS) + " | load average (1 min) |"
    )  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        cpu, faults, loads = row["cpu_us_per_req"], row["minflt_per_req"], row["loadavg"]
        assert isinstance(cpu, dict) and isinstance(faults, dict) and isinstance(loads, list)
        print(
            f"| {row['server']} | {_response(row)} "
            f"| {' / '.join(str(cpu[s]) for s in STACKS)} "
            f"| {' / '.join(str(faults[s]) for s in STACKS)} "
            f"| {loads[0]:.2f}–{loads[1]:.2f} |"
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
    parser.add_argument(
        "--compress",
        metavar="BACKEND:LEVEL",
        help="the wsgikit stack's Compress backend and level (e.g. isal:1, zlib-ng:6); "
        "the anchor stack and selfgzip keep zlib level 6",
    )
    parser.add_argument(
        "--page",
        choices=load_apps.PAGES,
        default="words",
        help="the /html body: 20 KiB of word rows (words) or pydoc's 20 KiB page of the "
        "secrets module (pydoc), a real generated page",
    )
    args = parser.parse_args(argv)
    # Read by load_apps in the server processes, which inherit this environment.
    os.environ["LOAD_PAGE"] = args.page
    if args.compress:
        os.environ["LOAD_COMPRESS"] = args.compress
    rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
