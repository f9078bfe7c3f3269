"""The header-only path: :func:`intercept_headers`, for a middleware that only
ever adds or replaces response headers. It shares no state with the
interception state machine (:mod:`wsgikit._response`), which it replaces for
these layers at a fraction of the cost."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._types import ExcInfo, Headers, Write

#: ``edit(environ, status, headers) -> headers``: the header-only plan of
#: :func:`intercept_headers` (return ``headers`` itself to change nothing).
EditFunction: TypeAlias = Callable[[WSGIEnvironment, str, Headers], Headers]


def intercept_headers(
    app: WSGIApplication,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    edit: EditFunction,
) -> Iterable[bytes]:
    """Call ``app`` and send its response with the headers ``edit`` returns.

    For a middleware that only ever adds or replaces headers (CORS, security
    headers): the :class:`~wsgikit._response.EditHeaders` plan of
    :func:`~wsgikit._response.intercept` without its machinery -- no plan
    object, no per-response state -- at about half the cost (``python
    bench/run.py core``), since these layers touch every response.

    ``edit`` runs inside the ``start_response`` given to the application,
    which calls the server's at once: the application gets the server's own
    ``write()``, and its iterable goes back to the server itself (never
    wrapped, so ``wsgi.file_wrapper`` works and ``close()`` is the server's
    to call). The rules are the core's: a second call without ``exc_info``
    raises :exc:`RuntimeError` before ``edit`` runs (an edit may have side
    effects: a session is written); a first call with ``exc_info`` is a plain
    first call (nothing was sent, and some servers and test clients re-raise
    any ``exc_info`` they are given); a later replacement with ``exc_info`` is
    edited too and handed to the server with the ``exc_info``: the server
    decides (it re-raises once headers are out). ``edit`` must not change
    ``headers``: it returns them as they are, or a new list.
    """
    started = False

    def edited_start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        nonlocal started
        if not started:
            started = True
            exc_info = None  # nothing reached the server from this layer yet
            return start_response(status, edit(environ, status, headers))
        if exc_info is None:
            raise RuntimeError("start_response() called twice without exc_info")
        try:
            return start_response(status, edit(environ, status, headers), exc_info)
        finally:
            exc_info = None  # break the frame <-> traceback cycle (PEP 3333)

    return app(environ, edited_start_response)
