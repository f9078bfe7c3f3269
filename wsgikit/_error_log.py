"""Reporting an unhandled exception, for :class:`~wsgikit.errors.JSONErrors`.

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
from wsgiref.types import WSGIEnvironment

from ._http import log_safe

logger = logging.getLogger("wsgikit.errors")


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
