"""Recognising a framework's HTTP exception, for :class:`~wsgikit.errors.JSONErrors`.

werkzeug (and so Flask), WebOb, Pyramid and Bottle signal "answer with this
status" by raising an exception. This module tells those apart from any other
exception without importing a framework -- by class name and top-level package
along the MRO -- and reads what they carry: the status (an ``int`` ``code`` or
``status_code``), the description, the headers (werkzeug's ``get_headers()``,
WebOb's and Bottle's ``headerlist``) and, for redirects and other statuses
below 400, the response they make themselves.

Everything is duck-typed and defensive: an exception whose attributes raise or
hold the wrong types yields "nothing known", never an error. Whether a status
is believed (framework exceptions, or any with ``duck_typing``) and which
headers may be sent is decided by :class:`~wsgikit.errors.JSONErrors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._error_pages import one_line

logger = logging.getLogger("wsgikit.errors")

#: The HTTP exception base classes of the supported frameworks: class name ->
#: the top-level packages it is believed from (werkzeug and Flask; WebOb; Pyramid,
#: which has its own copy; Bottle), and wsgikit's own (``HTTPStatusError``: a
#: session store that is down). Recognised by name and module along the MRO,
#: so no framework is imported, and an unrelated class of the same name is not.
FRAMEWORK_EXCEPTIONS: dict[str, frozenset[str]] = {
    "HTTPException": frozenset({"werkzeug", "webob", "pyramid"}),
    "HTTPError": frozenset({"bottle"}),
    "HTTPStatusError": frozenset({"wsgikit"}),
}


def is_framework_exception(exc: BaseException) -> bool:
    """True when ``exc`` is a supported framework's HTTP exception, whose
    status is meant for the client (and not, say, the ``HTTPError`` of a
    request the application itself made to another service)."""
    for cls in type(exc).__mro__:
        packages = FRAMEWORK_EXCEPTIONS.get(cls.__name__)
        if packages is not None and str(cls.__module__).partition(".")[0] in packages:
            return True
    return False


def carried_status(exc: Exception, lowest: int = 100) -> int | None:
    """The status (``lowest``-599) an exception carries in an int ``code`` or
    ``status_code`` (the first of the two in that range)."""
    for attr in ("code", "status_code"):
        try:
            value = getattr(exc, attr, None)
        except Exception:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and lowest <= value <= 599:
            return int(value)
    return None


def exception_headers(exc: Exception, environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The ``(name, value)`` string pairs among an HTTP exception's headers:
    werkzeug's ``get_headers()``, WebOb's and Bottle's ``headerlist``. Items
    of any other shape are skipped; which names and values may be sent is the
    caller's decision."""
    found: object = None
    try:
        get_headers = getattr(exc, "get_headers", None)
        found = get_headers(environ) if callable(get_headers) else getattr(exc, "headerlist", None)
    except Exception:
        logger.debug("could not read the headers of %s", type(exc).__name__, exc_info=True)
        return []
    if not isinstance(found, list | tuple):
        return []
    return [
        item
        for item in found
        if isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], str)
    ]


def exception_text(exc: Exception) -> str | None:
    """The description an exception carries, on one line (werkzeug's
    ``description``, WebOb's ``detail`` and ``explanation``, Bottle's
    ``body``; a class registered with JSONErrors is read the same way), or
    ``None``. Whether it may be shown is the caller's decision."""
    for attr in ("description", "detail", "explanation", "body"):
        try:
            value = getattr(exc, attr, None)
        except Exception:
            continue
        if isinstance(value, str):
            text = one_line(value)
            if text:
                return text
    return None


def own_response(exc: Exception) -> WSGIApplication | None:
    """The WSGI application that answers for an HTTP exception which makes its
    own response and carries no error status (those get the JSON made from
    their description): a werkzeug ``HTTPException`` (``get_response``), a
    WebOb/Pyramid ``HTTPException`` (itself a WSGI application); ``None``
    for anything else."""
    try:
        code = carried_status(exc)
        if code is not None and code >= 400:
            return None
        get_response = getattr(exc, "get_response", None)
        if callable(get_response) and hasattr(exc, "code"):
            # werkzeug: a status below 400, or a ready-made response (abort(response)).
            if code is None and getattr(exc, "response", None) is None:
                return None
            return partial(_werkzeug_response, get_response)
        if code is not None and callable(exc):
            return cast(WSGIApplication, exc)
    except Exception:
        logger.debug("could not inspect %s", type(exc).__name__, exc_info=True)
    return None


def _werkzeug_response(
    get_response: Callable[[WSGIEnvironment], WSGIApplication],
    environ: WSGIEnvironment,
    start_response: StartResponse,
) -> Iterable[bytes]:
    return get_response(environ)(environ, start_response)
