"""gunicorn hooks that profile one worker for a fixed number of requests.

Used by ``bench/profile_server.py`` (``gunicorn -c python:profile_hooks``);
configured by environment variables:

- ``PROFILE_OUT``: the directory the stats go to (``<pid>.prof``) and the
  environ of the first request (``<pid>.environ.json``);
- ``PROFILE_WARMUP``: requests served before the profiler starts;
- ``PROFILE_REQUESTS``: requests profiled;
- ``PROFILE_MODE``: ``profile`` (the default) or ``time``: no profiler, but
  the thread CPU time spent inside the application (the call, every
  ``next()`` on its body and ``close()``, not gunicorn's writes between
  them) summed over the same requests into ``<pid>.time.json``.

cProfile is enabled in the worker's own thread from ``pre_request`` of the
first profiled request to ``post_request`` of the last, so it sees everything
the worker does for those requests after the request line and headers were
parsed: the environ built by gunicorn, the middleware stack, the app, writing
the response, closing the connection, and waiting for the next one (a
``select`` and an ``accept``, which the comparison leaves out).
"""

from __future__ import annotations

import cProfile
import json
import os
import time
from pathlib import Path
from typing import Any

OUT = Path(os.environ.get("PROFILE_OUT", "."))
WARMUP = int(os.environ.get("PROFILE_WARMUP", "200"))
REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "2000"))

MODE = os.environ.get("PROFILE_MODE", "profile")

_state: dict[str, Any] = {"seen": 0, "done": 0, "profile": None, "app_ns": 0}


class _Timed:
    """The application's body, timing each ``next()`` and ``close()``."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.iterator = iter(result)

    def __iter__(self) -> _Timed:
        return self

    def __next__(self) -> Any:
        t0 = time.thread_time_ns()
        try:
            return next(self.iterator)
        finally:
            _state["app_ns"] += time.thread_time_ns() - t0

    def close(self) -> None:
        t0 = time.thread_time_ns()
        close = getattr(self.result, "close", None)
        if close is not None:
            close()
        _state["app_ns"] += time.thread_time_ns() - t0


def post_worker_init(worker: Any) -> None:
    if MODE != "time":
        return
    app = worker.wsgi

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        t0 = time.thread_time_ns()
        result = app(environ, start_response)
        _state["app_ns"] += time.thread_time_ns() - t0
        return _Timed(result)

    worker.wsgi = timed


def pre_request(worker: Any, req: Any) -> None:
    if _state["seen"] == WARMUP:
        _state["app_ns"] = 0
    if MODE == "profile" and _state["seen"] == WARMUP and _state["profile"] is None:
        # Thread CPU time: the wall clock would charge the wait for a core on a
        # busy machine to whatever function was running.
        _state["profile"] = cProfile.Profile(time.thread_time_ns, 1e-9)
        _state["profile"].enable()
    _state["seen"] += 1


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    if _state["done"] == 0:
        plain = {k: v for k, v in environ.items() if isinstance(v, (str, int, bool))}
        plain["wsgi.version"] = list(environ["wsgi.version"])
        (OUT / f"{os.getpid()}.environ.json").write_text(json.dumps(plain, indent=1))
    _state["done"] += 1
    if MODE == "time" and _state["done"] == WARMUP + REQUESTS:
        result = {"requests": REQUESTS, "app_ns": _state["app_ns"]}
        (OUT / f"{os.getpid()}.time.json").write_text(json.dumps(result))
    profile = _state["profile"]
    if profile is not None and _state["done"] == WARMUP + REQUESTS:
        profile.disable()
        profile.dump_stats(str(OUT / f"{os.getpid()}.prof"))
        _state["profile"] = None
