"""Exceptions from an application: watching its body for them, answering in
place of its response, and reporting them.

:func:`guard_body` and :func:`answer` serve every layer that turns an
exception into a response of its own (:class:`~wsgikit.errors.JSONErrors`, and
:class:`~wsgikit.body_size.MaxBodySize` for :class:`~wsgikit.body_size.BodyTooLarge`).
The rest reports an unhandled exception for JSONErrors.

A 5xx exception's traceback goes to logging (logger ``wsgikit.errors``) and to
the server's ``wsgi.errors`` stream -- once: most servers give ``sys.stderr`` as
``wsgi.errors``, where Python's last-resort handler also prints the records of
an application that configured no logging, so :func:`write_errors` skips a
stream the record already went to. Nothing here raises because of the
exception object (a ``__str__`` or ``__notes__`` that fails) or a broken stream.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from functools import partial
from types import TracebackType
from typing import TypeAlias, cast
from wsgiref.types import StartResponse, WSGIEnvironment

from ._bodies import guard
from ._http import log_safe
from ._types import Headers

#: ``on_error(environ, start_response, exc, sent)``: what :func:`guard_body`
#: calls for an exception raised while the server iterates the body; returns
#: a replacement body, or ``None`` to re-raise.
OnBodyError: TypeAlias = Callable[
    [WSGIEnvironment, StartResponse, BaseException, bool], Iterable[bytes] | None
]

logger = logging.getLogger("wsgikit.errors")


def guard_body(
    body: Iterable[bytes],
    environ: WSGIEnvironment,
    start_response: StartResponse,
    on_error: OnBodyError,
) -> Iterable[bytes]:
    """``body`` (what :func:`~wsgikit._response.intercept` returned) with an
    exception raised while the server iterates it handed to ``on_error``
    (see :func:`~wsgikit._bodies.guard`); a file wrapper reaches the server
    unwrapped. A caller on a hot path checks for a ``list`` or ``tuple``
    first: those are returned as they are, but only after building the
    callback."""
    return guard(body, partial(on_error, environ, start_response), environ.get("wsgi.file_wrapper"))


def answer(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    status: str,
    headers: Headers,
    body: bytes,
    replaces: BaseException | None = None,
) -> list[bytes]:
    """Send ``body`` with ``headers`` (a new list, extended here) and its
    ``Content-Length``; no body for ``HEAD``. With ``replaces``, the exception
    that interrupted a response whose status the server already has, it goes
    as PEP 3333 ``exc_info``: the server replaces the status, or re-raises if
    the headers went out."""
    headers.append(("Content-Length", str(len(body))))
    if replaces is None:
        start_response(status, headers)
    else:
        exc_info = (type(replaces), replaces, cast(TracebackType, replaces.__traceback__))
        try:
            start_response(status, headers, exc_info)
        finally:
            del replaces, exc_info  # break the frame <-> traceback cycle
    if environ.get("REQUEST_METHOD") == "HEAD":
        return []
    return [body]


def request_line(environ: WSGIEnvironment) -> tuple[str, str]:
    """Method and path, escaped by the one log escaper (no log injection)."""
    method = log_safe(environ.get("REQUEST_METHOD", "?"), 20)
    path = log_safe(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    return method, path


def write_errors(environ: WSGIEnvironment, message: str, exc: BaseException) -> None:
    """Write ``message`` and the traceback to ``wsgi.errors``, unless the
    ERROR record just logged for it already went to that same stream."""
    stream = environ.get("wsgi.errors")
    if stream is None or _logged_to(stream):
        return
    try:
        stream.write(f"wsgikit.errors: {message}\n{''.join(format_traceback(exc))}")
        stream.flush()
    except Exception:  # a broken error stream must not hide the original error
        logger.debug("could not write to wsgi.errors", exc_info=True)


def _logged_to(stream: object) -> bool:
    """Whether logging writes an ERROR record of :data:`logger` to ``stream``.

    Most servers (waitress, wsgiref) give ``sys.stderr`` as ``wsgi.errors``,
    and an application that configures no logging has its records printed to
    ``sys.stderr`` by Python's last-resort handler: without this check every
    traceback would appear twice, one after the other."""
    if not logger.isEnabledFor(logging.ERROR):
        return False
    handled = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            handled = True
            if (
                isinstance(handler, logging.StreamHandler)
                and handler.level <= logging.ERROR
                and handler.stream is stream
            ):
                return True
        current = current.parent if current.propagate else None
    last_resort = logging.lastResort
    return (
        not handled
        and last_resort is not None
        and last_resort.level <= logging.ERROR
        and stream is sys.stderr
    )


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception cannot be printed."""
    try:
        return str(exc)
    except Exception:
        return "<exception str() failed>"


def format_traceback(exc: BaseException) -> list[str]:
    """The traceback lines of ``exc``, whatever the exception object does
    (``traceback`` itself fails on a ``__notes__`` that raises)."""
    try:
        return traceback.format_exception(exc)
    except Exception:
        lines = traceback.format_tb(exc.__traceback__)
        return ["Traceback (most recent call last):\n", *lines, f"{type(exc).__qualname__}\n"]
