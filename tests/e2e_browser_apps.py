"""Targets for the browser tests (``wsgikit serve e2e_browser_apps:NAME``).

``host_prefixed``: a session counter whose cookie is ``__Host-session``
(``secure=True``), to see what a real browser keeps over plain-http localhost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit.sessions import SessionMiddleware, get_session

SECRET = "e2e-browser-secret-key-0123456789abcdef"


def counter(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/":  # the browser's /favicon.ico
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
