"""Helpers for bench case modules: a case record and a one-request driver."""

from __future__ import annotations

import http.client
import io
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.types import WSGIApplication


@dataclass
class Case:
    """One measured callable. ``role`` is ``floor``, ``wsgikit`` or ``anchor``.

    ``bench/run.py`` fills ``samples`` (seconds per call, one per round),
    ``median`` and ``seconds`` (both the median of the samples)."""

    group: str
    name: str
    role: str
    call: Callable[[], object]
    note: str = ""
    seconds: float = field(default=0.0, repr=False)
    median: float = field(default=0.0, repr=False)
    samples: list[float] = field(default_factory=list, repr=False)


def environ(**overrides: Any) -> dict[str, Any]:
    """A complete GET / environ; the input stream is fresh for every request."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    env.update(overrides)
    return env


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return _discard


def _discard(data: bytes) -> None:
    pass


def drain(result: Iterable[bytes]) -> int:
    """Iterate a response body as a server would, close it, return its size."""
    size = 0
    try:
        for chunk in result:
            size += len(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return size


def request(app: WSGIApplication, **overrides: Any) -> Callable[[], int]:
    """Return a callable doing one request as a server would: call the app on a
    fresh copy of the environ, iterate the body, close it; returns body size."""
    base = environ(**overrides)

    def call() -> int:
        return drain(app(dict(base), _start_response))

    return call


def bare_app(body: bytes = b"Hello, world!", content_type: str = "text/plain") -> WSGIApplication:
    """The floor: the least a WSGI app can do."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", list(headers))
        return [body]

    return app


WORDS = [
    "wsgi",
    "middleware",
    "response",
    "header",
    "body",
    "chunk",
    "stream",
    "gzip",
    "brotli",
    "vary",
    "etag",
    "cache",
    "request",
    "server",
    "client",
    "proxy",
    "length",
    "encoding",
    "quality",
    "identity",
    "flask",
    "pyramid",
    "bottle",
]


def html(size: int, seed: int = 1) -> bytes:
    """A deterministic HTML-like page of about ``size`` bytes (compresses ~4-6x)."""
    rng = random.Random(seed)
    rows = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        row = f'<tr><td class="n">{rng.randint(0, 10**6)}</td><td>{words}</td></tr>\n'
        rows.append(row)
        total += len(row)
    page = "<html><body><table>\n" + "".join(rows) + "</table></body></html>\n"
    return page.encode()[:size]


def documentation_page(module: str = "json") -> bytes:
    """A real generated page: Python's own HTML documentation of ``module``
    (``pydoc``; on Python 3.11 the ``secrets`` module's is 20 KiB, the ``json``
    module's 44 KiB). Unlike :func:`html`, whose rows draw from a 23-word list,
    it has the mix of markup, names and prose of a page a site serves.

    What pydoc writes differently from one machine or process to the next is
    made fixed, so that every run compresses the same bytes: the source file's
    path, the link to the online documentation (``PYTHONDOCS``) and object
    addresses. The page still differs between Python versions.
    """
    import importlib
    import pydoc
    import re

    target = importlib.import_module(module)
    page = pydoc.html.page(module, pydoc.html.document(target))
    path = getattr(target, "__file__", None)
    if path:
        page = page.replace(path, f"/usr/lib/python3/{module}.py")
    page = re.sub(
        r'href="[^"]*"(>Module Reference<)', r'href="https://docs.python.org/3/library/"\1', page
    )
    page = re.sub(r" at 0x[0-9a-fA-F]+", " at 0x0", page)
    return page.encode("utf-8")


def stop(*processes: subprocess.Popen[bytes], group: bool = False) -> None:
    """Stop servers by PID: SIGTERM to each still running (to its whole process
    group with ``group``, for a server started with ``start_new_session`` and
    its workers), then wait; SIGKILL whatever is still there after 10 s."""
    kill = os.killpg if group else os.kill
    for process in processes:
        if process.poll() is None:
            kill(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            kill(process.pid, signal.SIGKILL)
            process.wait()


def python_load(
    port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> tuple[int, int]:
    """The load client for a machine without ``wrk``: ``connections`` threads,
    each sending ``GET path`` on one keep-alive connection to 127.0.0.1:``port``
    for ``seconds``. Returns (responses, responses not 2xx)."""
    counts = [0] * connections
    bad = [0] * connections
    deadline = time.monotonic() + seconds

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
