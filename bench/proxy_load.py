"""Requests/s through ``wsgikit proxy`` against werkzeug's ``ProxyMiddleware``
served the same way and against the upstream directly, and the memory of a
100 MiB download through ``wsgikit proxy``.

    python bench/proxy_load.py                  # 5 s per variant, 100 MiB download
    python bench/proxy_load.py --seconds 10 --connections 8 --mb 20
    python bench/proxy_load.py --flask          # the upstream is a Flask view

Every server is a child process on 127.0.0.1 (ephemeral ports, stopped by PID
at the end). The upstream is waitress (4 threads) answering a 27-byte JSON
document from a bare WSGI function (or, with ``--flask``, from a Flask view);
each proxy runs on waitress with 4 threads and ``FakeForwardedFor`` in front:

- ``upstream direct``: the client talks to the upstream;
- ``wsgikit proxy``: ``python -m wsgikit proxy UPSTREAM`` (pooled keep-alive
  connections to the upstream);
- ``werkzeug ProxyMiddleware``: werkzeug's proxy (one new upstream connection
  per request) mounted under ``/p/``, since it cannot serve the root path.

The load comes from ``wrk`` (keep-alive) when ``/usr/bin/wrk`` exists, else
from a Python client (one keep-alive ``http.client`` connection per thread).
The download check reads the proxy's resident set (``VmRSS``) after a warm-up
request (and resets its peak) and its peak (``VmHWM``) after a 100 MiB
response streamed from the upstream through the proxy to a client that throws
the bytes away.

The targets of issue #14: wsgikit >= 0.8x werkzeug, >= 0.5x direct, and
< 5 MiB RSS growth. On a shared machine the absolute numbers move; the
ratios, measured in the same run, are what to compare.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import stop  # noqa: E402

BODY = json.dumps({"ok": True, "items": [1, 2, 3]}).encode()
BLOCK = b"x" * (64 * 1024)


# --- the children --------------------------------------------------------------


def upstream_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """``/big/<MiB>``: that many MiB in 64 KiB chunks; anything else: small JSON."""
    path = environ["PATH_INFO"]
    if path.startswith("/big/"):
        size = int(path.rsplit("/", 1)[1]) * 1024 * 1024
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        )
        return (BLOCK for _ in range(size // len(BLOCK)))
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


def flask_upstream() -> WSGIApplication:
    """The same small JSON from a Flask view (``--flask``); big bodies as before."""
    import flask

    app = flask.Flask("proxy_load")

    @app.route("/")
    def index() -> flask.Response:
        return flask.jsonify(ok=True, items=[1, 2, 3])

    flask_wsgi = app.wsgi_app

    def dispatch(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith("/big/"):
            return upstream_app(environ, start_response)
        return flask_wsgi(environ, start_response)

    return dispatch


def child(kind: str, port: int, upstream: str) -> None:
    import waitress

    sys.path.insert(0, str(ROOT))
    if kind == "upstream":
        app = upstream_app
    elif kind == "flask-upstream":
        app = flask_upstream()
    else:  # werkzeug
        from werkzeug.middleware.http_proxy import ProxyMiddleware

        from wsgikit import FakeForwardedFor

        def not_found(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not proxied"]

        targets = {"/p/": {"target": upstream, "remove_prefix": True}}
        app = FakeForwardedFor(ProxyMiddleware(not_found, targets))
    # As wsgikit proxy serves: 4 threads, forwarded headers kept, 1 MiB outbuf.
    waitress.serve(
        app,
        host="127.0.0.1",
        port=port,
        threads=4,
        clear_untrusted_proxy_headers=False,
        outbuf_high_watermark=1024 * 1024,
        _quiet=True,
    )


# --- the parent --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    process = subprocess.Popen(
        [arg.format(port=port) for arg in args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{args} did not start")


def load(port: int, path: str, seconds: float, connections: int) -> tuple[float, str]:
    """Requests per second and the tool that measured them."""
    url = f"http://127.0.0.1:{port}{path}"
    if shutil.which("wrk") or os.path.exists("/usr/bin/wrk"):
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", url],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
        match = re.search(r"Requests/sec:\s*([\d.]+)", output)
        errors = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
        if not match or errors:
            raise RuntimeError(f"wrk: {output}")
        return float(match.group(1)), "wrk"
    return python_load(port, path, seconds, connections), "python"


def python_load(port: int, path: str, seconds: float, connections: int) -> float:
    """Requests/s from the fallback client (no ``wrk``); any non-2xx is an error."""
    done, bad = harness.python_load(port, path, {}, seconds, connections)
    if bad:
        raise RuntimeError(f"{bad} of {done} responses were not 2xx")
    return done / seconds


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh (Linux: "5" to clear_refs), so the load test's peak
    does not count; where that is not allowed, the peak since start is shown."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as error:
        print(f"(cannot reset the peak RSS: {error}; the peak includes the load test)")


def download(port: int, path: str) -> tuple[int, float]:
    """Bytes received and seconds taken for one GET, read in 1 MiB steps."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    received = 0
    while chunk := response.read(1024 * 1024):
        received += len(chunk)
    connection.close()
    return received, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--mb", type=int, default=100, help="size of the streamed download")
    parser.add_argument("--flask", action="store_true", help="the upstream is a Flask view")
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "PORT", "UPSTREAM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return

    me = [sys.executable, str(Path(__file__).resolve())]
    children = []
    try:
        kind = "flask-upstream" if args.flask else "upstream"
        upstream, up_port = start([*me, "--child", kind, "{port}", "-"])
        children.append(upstream)
        upstream_url = f"http://127.0.0.1:{up_port}"
        ours, ours_port = start(
            [sys.executable, "-m", "wsgikit", "proxy", upstream_url, "--port", "{port}"]
        )
        children.append(ours)
        theirs, theirs_port = start([*me, "--child", "werkzeug", "{port}", upstream_url])
        children.append(theirs)
        variants = [
            ("upstream direct", up_port, "/"),
            ("wsgikit proxy", ours_port, "/"),
            ("werkzeug ProxyMiddleware", theirs_port, "/p/"),
        ]
        rates = {}
        for name, port, path in variants:
            load(port, path, 1.0, args.connections)  # warm up
            rates[name], tool = load(port, path, args.seconds, args.connections)
        what = f"{args.connections} connections, {args.seconds:g} s each ({tool})"
        print(f"small JSON{' from Flask' if args.flask else ''}, keep-alive, {what}")
        print(f"{'variant':<28}{'req/s':>10}")
        for name, rate in rates.items():
            print(f"{name:<28}{rate:>10.0f}")
        print(
            f"wsgikit / werkzeug: {rates['wsgikit proxy'] / rates['werkzeug ProxyMiddleware']:.2f}x"
            f" (target >= 0.8)   wsgikit / direct: "
            f"{rates['wsgikit proxy'] / rates['upstream direct']:.2f}x (target >= 0.5)"
        )

        download(ours_port, "/big/1")  # warm up: threads, pool, buffers
        reset_peak(ours.pid)
        before = memory_kib(ours.pid)
        received, took = download(ours_port, f"/big/{args.mb}")
        after = memory_kib(ours.pid)
        growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        print(
            f"\n{received / 2**20:.0f} MiB through wsgikit proxy in {took:.1f} s: RSS "
            f"{before['VmRSS'] / 1024:.1f} MiB before, peak {after['VmHWM'] / 1024:.1f} MiB, "
            f"growth {growth:.1f} MiB (target < 5)"
        )
        if received != args.mb * 2**20:
            raise SystemExit(f"download incomplete: {received} bytes")
    finally:
        for process in reversed(children):
            stop(process)


if __name__ == "__main__":
    main()
