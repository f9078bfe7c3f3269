"""Targets for the browser tests (``wsgikit serve e2e_browser_apps:NAME``).

``host_prefixed``: a session counter whose cookie is ``__Host-session``
(``secure=True``), to see what a real browser keeps over plain-http localhost.
``oversized``: the counter behind JSONErrors, plus ``/grow``, which stores more
than a cookie can hold. ``stored``: the counter with its data in the Redis at
``$E2E_REDIS_URL``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit import JSONErrors, RedisStore
from wsgikit.sessions import SessionMiddleware, get_session

SECRET = "e2e-browser-secret-key-0123456789abcdef"


def counter(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/grow":
        # Random, so that zlib cannot bring it under the 4093-byte limit.
        get_session(environ)["blob"] = secrets.token_hex(4000)
    elif environ.get("PATH_INFO") != "/":  # the browser's /favicon.ico
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    session = get_session(environ)
    session["visits"] = session.get("visits", 0) + 1
    body = json.dumps({"visits": session["visits"]}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


host_prefixed = SessionMiddleware(counter, SECRET, cookie_name="__Host-session", secure=True)
oversized = JSONErrors(SessionMiddleware(counter, SECRET))
stored = SessionMiddleware(
    counter, SECRET, store=RedisStore(os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:1/0"))
)
