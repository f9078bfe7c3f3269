"""Small helpers shared by test modules (a plain module: conftest holds fixtures).

``call`` drives one request through an application, linted on both sides, and
returns ``(status, headers, body)``; ``header`` reads a header's values;
``problem`` checks the JSON framing of an error body and decodes it;
``raising`` is an application that raises the exception it is given.
``Capture``, ``through`` and ``seen`` run a request through a proxy middleware
and look at the environ the app got.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from conftest import linted, run_wsgi

#: Text that must never reach a client (an exception message, a 5xx page).
SECRET = "secret internal detail"


def call(
    app: WSGIApplication, *, lint: bool = True, **environ: Any
) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request through ``app`` (linted on both sides by default)."""
    calls, chunks, _ = run_wsgi(linted(app) if lint else app, environ)
    status, headers = calls[-1]
    return status, headers, b"".join(chunks)


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def problem(
    headers: list[tuple[str, str]], body: bytes, content_type: str = "application/problem+json"
) -> dict[str, Any]:
    """Check the JSON framing and return the decoded body."""
    assert header(headers, "Content-Type") == [content_type]
    assert header(headers, "Content-Length") == [str(len(body))]
    data = json.loads(body.decode("utf-8"))
    assert isinstance(data, dict)
    return data


def raising(exc: BaseException) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise exc

    return app


# --- ProxyFix and FakeForwardedFor -----------------------------------------------

#: The environ keys ProxyFix may write.
PROXY_FIX_KEYS = (
    "REMOTE_ADDR",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
)


#: The environ keys of the forwarded headers ProxyFix reads.
FORWARDED_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)


class Capture:
    """An app that keeps the environ it was called with."""

    def __init__(self) -> None:
        self.environ: WSGIEnvironment = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.environ = environ
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]


def through(middleware: Any, *args: Any, **kwargs: Any) -> Any:
    """A factory: ``through(ProxyFix, x_for=2)(**environ) -> environ seen by the app``."""

    def run(**environ: Any) -> WSGIEnvironment:
        capture = Capture()
        run_wsgi(middleware(capture, *args, **kwargs), environ)
        return capture.environ

    return run


def seen(environ: WSGIEnvironment) -> dict[str, Any]:
    """The values of the keys ProxyFix may write."""
    return {key: environ.get(key) for key in PROXY_FIX_KEYS}
