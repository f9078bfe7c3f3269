"""Server-side sessions: SessionMiddleware(store=RedisStore) against Beaker's
``ext:redis`` sessions, both on the same redis-server, on a request that reads
one key and writes one (the data changes on every request, so nothing can be
served from a cache). MemoryStore is shown for scale (no network).

The Redis is ``$BENCH_REDIS_URL``, or a ``redis-server`` started here on a free
127.0.0.1 port (no persistence) and stopped by its PID when the run ends; with
neither, the Redis rows are left out.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any

from beaker.middleware import SessionMiddleware as BeakerSessionMiddleware
from harness import Case, bare_app, environ, request

from wsgikit import MemoryStore, RedisStore, SessionMiddleware, get_session

SECRET = "bench-secret-key-0123456789abcdef"
logging.getLogger("beaker").disabled = True


def _redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=10)

    atexit.register(stop)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    stop()
    return None


def _view(get: Callable[[dict[str, Any]], Any], save: bool = False) -> Any:
    """Reads ``user``, increments ``n``."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        session = get(environ)
        body = str(session.get("user")).encode()
        session["n"] = session.get("n", 0) + 1
        if save:
            session.save()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return app


def _first_cookie(app: Any, name: str) -> str:
    """Run one request that creates the session; return the ``Cookie`` header for it."""
    captured: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.extend(v for k, v in headers if k.lower() == "set-cookie")

    body = app(environ(), start_response)
    for _ in body:
        pass
    found = [c.split(";", 1)[0].strip() for c in captured if c.strip().startswith(name + "=")]
    return found[0]


def _ours(store: Any) -> tuple[Any, str]:
    app = SessionMiddleware(_view(get_session), SECRET, store=store)
    return app, _first_cookie(app, "session")


def _beaker(url: str) -> tuple[Any, str]:
    app = BeakerSessionMiddleware(
        _view(lambda environ: environ["beaker.session"], save=True),
        {
            "session.type": "ext:redis",
            "session.url": url,
            "session.key": "beaker",
            "session.data_serializer": "json",
            "session.timeout": 3600,
        },
    )
    return app, _first_cookie(app, "beaker")


def cases() -> list[Case]:
    group = "sessions: server-side store, read one key and write one"
    bare = bare_app()
    rows = [Case(group, "bare app", "floor", request(bare))]
    url = _redis_url()
    if url is not None:
        beaker, beaker_cookie = _beaker(url)
        rows.append(
            Case(
                group,
                "Beaker SessionMiddleware(type=ext:redis)",
                "anchor",
                request(beaker, HTTP_COOKIE=beaker_cookie),
            )
        )
        ours, cookie = _ours(RedisStore(url))
        rows.append(
            Case(
                group,
                "SessionMiddleware(store=RedisStore)",
                "wsgikit",
                request(ours, HTTP_COOKIE=cookie),
            )
        )
    memory, memory_cookie = _ours(MemoryStore())
    rows.append(
        Case(
            group,
            "SessionMiddleware(store=MemoryStore)",
            "wsgikit",
            request(memory, HTTP_COOKIE=memory_cookie),
            note="one process, no network",
        )
    )
    return rows
