"""The apps the load benchmark (``bench/load.py``) serves, one factory per stack.

Every app answers ``GET /json`` (a small JSON body), ``GET /html`` (a
20 KiB HTML page: :func:`page`) and ``GET /whoami`` (the client address and scheme the app
sees: how ``bench/load.py`` checks that the proxy-header layers work). The
stacks with a session read one session key and write one on every page
request, so the session data changes from request to request:

- ``bare``: the app alone (no session, no compression): the ceiling.
- ``selfgzip``: the app gzips its own HTML when asked: the floor the
  middleware overhead eats into on the HTML page.
- ``wsgikit``: ProxyFix -> JSONErrors -> Compress -> SessionMiddleware ->
  AuthParser around the app.
- ``anchor``: werkzeug ProxyFix -> paste.gzipper -> Beaker cookie session
  around the same app.

Served by gunicorn (``load_apps:wsgikit()``) or waitress (``--call``).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from typing import Any

from harness import documentation_page, html

SECRET = "load-bench-secret-key-0123456789abcdef"
LEVEL = 6
#: The /html pages ``bench/load.py --page`` chooses from (``LOAD_PAGE``).
PAGES = ("words", "pydoc")


def page(kind: str | None = None) -> bytes:
    """The ``/html`` body for ``kind`` (default: ``LOAD_PAGE``, else ``words``):
    ``words``, 20 KiB of table rows drawn from a 23-word list
    (:func:`harness.html`); ``pydoc``, pydoc's page of the ``secrets`` module,
    a real generated page of 20 KiB (its mix of markup and prose compresses
    differently: see the gzip backends in docs/middlewares/compress.md)."""
    kind = os.environ.get("LOAD_PAGE", "words") if kind is None else kind
    if kind == "words":
        return html(20 * 1024)
    if kind == "pydoc":
        return documentation_page("secrets")
    raise ValueError(f"page: one of {', '.join(PAGES)}, not {kind!r}")


HTML = page()


def _body(path: str, session: dict[str, Any] | None) -> tuple[bytes, str]:
    # The session is read and written on both pages, as the app does.
    visits = 0
    if session is not None:
        visits = int(session.get("visits", 0)) + 1
        session["visits"] = visits
    if path == "/html":
        return HTML, "text/html; charset=utf-8"
    return json.dumps({"ok": True, "visits": visits, "user": "bench"}).encode(), (
        "application/json"
    )


def _whoami(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = json.dumps({"remote": environ["REMOTE_ADDR"], "scheme": environ["wsgi.url_scheme"]})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body.encode()]


def bare() -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/whoami":
            return _whoami(environ, start_response)
        body, content_type = _body(environ["PATH_INFO"], None)
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def selfgzip() -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/whoami":
            return _whoami(environ, start_response)
        body, content_type = _body(environ["PATH_INFO"], None)
        headers = [("Content-Type", content_type), ("Vary", "Accept-Encoding")]
        if environ["PATH_INFO"] == "/html" and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            # Compressed on every request, as a real app would: only the
            # middleware's own overhead is missing.
            body = gzip.compress(HTML, compresslevel=LEVEL, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    return app


def _compress_options() -> dict[str, Any]:
    """``Compress`` options: level 6, or ``LOAD_COMPRESS`` (``BACKEND:LEVEL``,
    set by ``bench/load.py --compress``) for the wsgikit stack."""
    spec = os.environ.get("LOAD_COMPRESS")
    if not spec:
        return {"level": LEVEL}
    backend, _, level = spec.partition(":")
    return {"backend": backend, "level": int(level) if level else LEVEL}


def wsgikit() -> Any:
    from wsgikit import (
        AuthParser,
        Compress,
        JSONErrors,
        ProxyFix,
        SessionMiddleware,
        compose,
        get_session,
    )

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/whoami":
            return _whoami(environ, start_response)
        session = get_session(environ)
        body, content_type = _body(environ["PATH_INFO"], session)
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    return compose(
        app,
        lambda a: ProxyFix(a, x_for=1, x_proto=1),
        JSONErrors,
        lambda a: Compress(a, **_compress_options()),
        lambda a: SessionMiddleware(a, SECRET),
        AuthParser,
    )


def anchor() -> Any:
    from beaker.middleware import SessionMiddleware as Beaker
    from paste.gzipper import middleware as gzipper
    from werkzeug.middleware.proxy_fix import ProxyFix

    logging.getLogger("beaker").disabled = True

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/whoami":
            return _whoami(environ, start_response)
        session = environ["beaker.session"]
        body, content_type = _body(environ["PATH_INFO"], session)
        session.save()
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    beaker = Beaker(
        app,
        {
            "session.type": "cookie",
            "session.validate_key": SECRET,
            "session.data_serializer": "json",
            "session.key": "session",
        },
    )
    return ProxyFix(gzipper(beaker, compress_level=LEVEL), x_for=1, x_proto=1)
