"""Small responses wsgikit answers itself: a plain-text status and a redirect.

A middleware that refuses a request (a bad ``Host``, a refused CORS preflight)
or redirects it answers with one of these tiny WSGI applications, built once in
``__init__`` or per request. The text is fixed by the middleware: nothing the
client sent is echoed in a body.
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._http import body_forbidden, status_code
from ._response import Headers


def plain_response(
    status: str, text: str, headers: Iterable[tuple[str, str]] = (), *, no_store: bool = True
) -> WSGIApplication:
    """A WSGI application answering ``status`` with ``text`` as UTF-8 plain text
    (no body for ``HEAD`` nor for statuses that never carry one), with
    ``Cache-Control: no-store`` unless ``no_store`` is false, and ``headers``."""
    body = text.encode("utf-8")
    sent: Headers = [("Cache-Control", "no-store")] if no_store else []
    sent += headers
    if body_forbidden(status_code(status)):
        body = b""
    else:
        sent[:0] = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]

    def respond(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(sent))
        return [] if not body or environ.get("REQUEST_METHOD") == "HEAD" else [body]

    return respond


def redirect(location: str, status: str = "308 Permanent Redirect") -> WSGIApplication:
    """A WSGI application redirecting to ``location``, which must already be a
    safe header value (build it with :func:`wsgikit._host.request_url`)."""
    return plain_response(
        status, f"Redirecting to {location}\n", [("Location", location)], no_store=False
    )
