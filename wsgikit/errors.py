"""JSON error responses for any WSGI application (RFC 9457 problem details).

:class:`JSONErrors` makes every error an application (or any layer below it)
produces come out as JSON: the 4xx/5xx pages a framework renders as HTML or
text, and the exceptions nobody caught. Use it for APIs, outermost in the stack
(only a proxy fix goes outside it), so that errors from every layer -- routing,
authentication, the framework, the application -- share one shape.

Do **not** use it for an application that serves HTML pages to browsers unless
you set ``negotiate=True``: it would replace the friendly 404 page with JSON.
It buffers error responses (never successful ones) to replace their body, so an
endless error stream would be read to its end.

This module decides *when* and *with which status*; the rest lives in private
modules: ``_error_pages`` (the description found in a framework's error page),
``_http_exceptions`` (recognising a framework's HTTP exception and reading
what it carries), ``_problem`` (the JSON body) and ``_error_log`` (guarding
the body, sending the answer, writing a traceback once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import Any, TypeAlias, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from ._error_log import (
    answer,
    format_traceback,
    guard_body,
    request_line,
    safe_str,
    write_errors,
)
from ._error_pages import DESCRIPTION_MAX_LENGTH as DESCRIPTION_MAX_LENGTH
from ._error_pages import DESCRIPTION_SCAN_LIMIT as DESCRIPTION_SCAN_LIMIT
from ._error_pages import HTML_TYPES, description_from_body, one_line
from ._http import REQUEST_ID as REQUEST_ID  # a request ID is echoed only when it matches
from ._http import TOKEN, media_type, status_code, with_vary
from ._http_exceptions import (
    carried_status,
    exception_headers,
    exception_text,
    is_framework_exception,
    own_response,
)
from ._options import check_bool, check_format, check_token
from ._problem import CLIENT_ERROR as CLIENT_ERROR
from ._problem import DETAILS as DETAILS
from ._problem import REQUEST_ID_KEY as REQUEST_ID_KEY
from ._problem import SERVER_ERROR as SERVER_ERROR
from ._problem import Renderer, standard_detail, status_title
from ._response import (
    Buffer,
    EditHeaders,
    ExcInfo,
    Headers,
    Plan,
    intercept,
)

#: ``formatter(status, title, detail, environ) -> dict``, the ``format`` callable.
Formatter: TypeAlias = Callable[[int, str, str, WSGIEnvironment], Mapping[str, Any]]

logger = logging.getLogger("wsgikit.errors")

#: The environ key holding the exception being converted (for a ``format`` callable).
EXCEPTION_KEY = "wsgikit.errors.exception"
#: Prefix of the (per instance) environ key set once the server's
#: ``start_response`` has been called.
STARTED_KEY = "wsgikit.errors.started"

FORMATS = ("problem", "simple")
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

#: Headers that describe the body being replaced; every other header survives.
DROPPED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-md5",
        "content-language",
        "content-disposition",
        "content-location",
        "content-digest",
        "repr-digest",
        "digest",
        "etag",
        "last-modified",
        "accept-ranges",
        "transfer-encoding",
    }
)


class JSONErrors:
    """Turn every 4xx/5xx response and every unhandled exception into JSON.

    - A 4xx/5xx response whose body is not already JSON (``application/json``
      or ``+json``) is buffered and replaced; the status stays, headers that
      carry meaning (``Allow``, ``WWW-Authenticate``, ``Set-Cookie``, ...)
      survive, those describing the old body (``Content-Type``,
      ``Content-Length``, ``ETag``, ...) go.
      Successful responses pass through unbuffered.
    - ``detail`` is a small 4xx page's own description (the last paragraph
      Flask, Pyramid and Bottle put ``abort``'s text in) or else a standard
      text for the status; never markup, and never a 5xx page's text.
    - An exception raised before a byte was sent becomes JSON: a 500, or the
      status of a registered class or a framework's HTTP exception (werkzeug,
      WebOb, Pyramid, Bottle; recognised without importing them). One with
      no error status that makes its own response (a redirect, a 304) is
      answered with it, decided like any response.
    - A 5xx exception's traceback is logged (``wsgikit.errors``, ERROR) and
      written to ``wsgi.errors`` once; a 4xx one is logged at INFO. After the
      body started, an exception is logged and re-raised (PEP 3333).
    - ``HEAD`` gets headers only; 204 and 304 never get a body.

    Environ keys: writes ``wsgikit.errors.exception`` (the exception being
    converted, for a ``format`` callable) and ``wsgikit.errors.started.<id>``
    (internal); reads ``wsgikit.request_id`` (set by
    :class:`~wsgikit.request_id.RequestID`), the request ID header,
    ``HTTP_ACCEPT``, ``wsgi.errors`` and ``wsgi.file_wrapper``.

    :param app: The WSGI application to wrap.
    :param format: ``"problem"`` (default: RFC 9457 ``type``, ``title``,
        ``status``, ``detail``, ``instance``), ``"simple"`` (``code``,
        ``message``, ``description``) or a callable ``(status, title, detail,
        environ) -> dict``; if the callable fails, a problem is sent instead.
    :param debug: Put the exception and its traceback in the body of a
        converted exception, and let a 5xx HTML page (a framework's debug page)
        through to a client that prefers HTML. Never in production: off by
        default, and a warning is logged when on.
    :param negotiate: Keep an application's error page for a client whose
        ``Accept`` rates HTML above JSON (``Vary: Accept``). Off by default.
    :param exceptions: More exception classes to answer with a status, such
        as ``{TimeoutError: 504}``; subclasses match, and they win over a
        status the exception carries. Empty by default.
    :param duck_typing: Treat any exception like a framework's: believe the
        ``int`` ``code`` or ``status_code`` it carries. Off by default: an HTTP
        client's error carries a status meant for the application.
    :param request_id_header: The request header echoed as ``request_id`` in
        problem bodies when it looks like an ID and ``RequestID`` set none;
        ``"X-Request-ID"`` by default, ``None`` turns it off.
    :param types: Problem ``type`` URIs by status, such as
        ``{404: "https://example.com/problems/not-found"}``; by default every
        status gets ``"about:blank"``.
    :param content_type: A JSON media type to send instead of the default,
        ``application/problem+json`` for ``"problem"`` and
        ``application/json`` otherwise.

    .. code-block:: python

        from wsgikit import JSONErrors

        app = JSONErrors(flask_app, exceptions={TimeoutError: 504})
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        format: str | Formatter = "problem",
        debug: bool = False,
        negotiate: bool = False,
        exceptions: Mapping[type[BaseException], int] | None = None,
        duck_typing: bool = False,
        request_id_header: str | None = "X-Request-ID",
        types: Mapping[int, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.app = app
        check_format("format", format, FORMATS)
        self.format = format
        self.debug = check_bool("debug", debug)
        self.negotiate = check_bool("negotiate", negotiate)
        self.exceptions = _check_exceptions(exceptions)
        self.duck_typing = check_bool("duck_typing", duck_typing)
        if request_id_header is not None:
            request_id_header = check_token("request_id_header", request_id_header)
        self.request_id_header = request_id_header
        self.types = _check_types(types)
        if content_type is None:
            content_type = PROBLEM_JSON if format == "problem" else JSON
        elif (
            not isinstance(content_type, str)
            or not _is_json(content_type.split(";", 1)[0].strip().lower())
            or "\n" in content_type
            or "\r" in content_type
        ):
            raise ValueError(f"content_type: must be a JSON media type, not {content_type!r}")
        self.content_type = content_type

        # Precomputed for the request path: bound once, not per request.
        self._decide_plan = self._decide
        self._on_error = self._on_body_error
        # Whether this instance's server has a status is known only inside the
        # core; the environ is the one per-request place shared with decide()
        # that costs nothing (a per-request object would add ~0.35 us to every
        # request, a third of the pass-through budget).
        # The key is per instance: a nested JSONErrors sets its own when it
        # passes a status on to a layer that may still hold it back.
        self._started_key = f"{STARTED_KEY}.{id(self):x}"
        self._request_id_key = (
            None
            if request_id_header is None
            else "HTTP_" + request_id_header.upper().replace("-", "_")
        )
        self._render = Renderer(format, self.types, self._request_id_key).render
        if self.debug:
            logger.warning(
                "JSONErrors(debug=True): exception messages and tracebacks are sent to "
                "clients; never enable this in production"
            )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            app_iter = intercept(self.app, environ, start_response, self._decide_plan)
        except Exception as exc:
            return self._from_exception(environ, start_response, exc)
        # A list or tuple cannot raise while iterated (a converted response is a
        # list too): checked here to spare the partial guard() would not use.
        kind = type(app_iter)
        if kind is list or kind is tuple:
            return app_iter
        return guard_body(app_iter, environ, start_response, self._on_error)

    # --- responses the application made -------------------------------------

    def _decide(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        # Cheapest possible test first: most responses are not errors. Every
        # plan but Buffer calls the server's start_response now: note it, so
        # that a later exception is reported with exc_info (and only then).
        if status < "4" or status >= "6":
            environ[self._started_key] = True
            return None
        code = status_code(status)
        mime = media_type(headers)
        if code < 400 or code > 599 or _is_json(mime):
            environ[self._started_key] = True
            return None
        if self._may_keep(code, mime) and not _prefers_json(environ.get("HTTP_ACCEPT")):
            environ[self._started_key] = True
            return EditHeaders(status, with_vary(headers, "Accept"))
        return Buffer(partial(self._finish, environ, mime))

    def _may_keep(self, code: int, mime: str) -> bool:
        """Whether an error page of type ``mime`` stays as it is for a client
        that prefers HTML: any page with ``negotiate``; with ``debug``, a 5xx
        HTML page, a framework's debug page (werkzeug's debugger, Django's
        technical 500) that a developer's browser should keep."""
        return self.negotiate or (self.debug and code >= 500 and mime in HTML_TYPES)

    def _finish(
        self, environ: WSGIEnvironment, mime: str, status: str, headers: Headers, body: bytes
    ) -> tuple[str, Headers, bytes]:
        """The problem document for an error page ``_decide`` chose to replace
        (``mime``: its media type, as ``_decide`` read it)."""
        code = status_code(status)
        phrase = status[4:].strip()
        title = status_title(code, phrase)
        # One pass over the headers: keep the meaningful ones, note the body's.
        kept: Headers = []
        content_type = encoding = ""
        for name, value in headers:
            lower = name.lower()
            if lower not in DROPPED_HEADERS:
                kept.append((name, value))
            elif lower == "content-type":
                content_type = value
            elif lower == "content-encoding":
                encoding = value
        detail = None
        if code < 500:
            detail = description_from_body(body, content_type, encoding, code, phrase, environ)
        if detail is None:
            detail = standard_detail(code)
        if self._may_keep(code, mime):
            kept = with_vary(kept, "Accept")  # the page would have stayed for an HTML client
        kept.append(("Content-Type", self.content_type))
        return status, kept, self._render(code, title, detail, environ, None)

    # --- exceptions ---------------------------------------------------------

    def _on_body_error(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        exc: BaseException,
        sent: bool,
    ) -> Iterable[bytes] | None:
        if not sent and isinstance(exc, Exception):
            return self._from_exception(environ, start_response, exc)
        method, path = request_line(environ)
        logger.error(
            "%s %s: exception after the response started; aborting the connection",
            method,
            path,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        write_errors(environ, f"{method} {path}: exception after the response started", exc)
        return None

    def _from_exception(
        self, environ: WSGIEnvironment, start_response: StartResponse, exc: Exception
    ) -> Iterable[bytes]:
        registered = self._registered_status(exc)
        trusted = registered is None and (self.duck_typing or is_framework_exception(exc))
        if trusted:
            own = own_response(exc)
            if own is not None:
                served = self._serve_own(environ, start_response, exc, own)
                if served is not None:
                    return served
        code, detail, extra_headers = _classify(exc, registered, trusted, environ)
        if code < 500:
            # Checked first: escaping the request line is most of a record's cost.
            if logger.isEnabledFor(logging.INFO):
                method, path = request_line(environ)
                logger.info("%s %s: %s answered with %d", method, path, type(exc).__name__, code)
        else:
            method, path = request_line(environ)
            logger.error(
                "%s %s: unhandled exception, answered with %d",
                method,
                path,
                code,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
            write_errors(environ, f"{method} {path}: unhandled exception", exc)
        trace = None
        if self.debug:
            trace = format_traceback(exc)
            if detail is None:
                detail = one_line(f"{type(exc).__qualname__}: {safe_str(exc)}")
        if detail is None:
            detail = standard_detail(code)
        title = status_title(code, "")
        environ[EXCEPTION_KEY] = exc
        body = self._render(code, title, detail, environ, trace)
        headers = [*extra_headers, ("Content-Type", self.content_type)]
        # exc_info only when the server has the app's status already (PEP
        # 3333): on a first call some test clients (werkzeug's) would re-raise
        # it even though nothing was sent.
        replaces = exc if environ.get(self._started_key) else None
        try:
            return answer(environ, start_response, f"{code} {title}", headers, body, replaces)
        finally:
            del exc, replaces  # break the frame <-> traceback cycle

    def _registered_status(self, exc: Exception) -> int | None:
        """The status ``exceptions`` gives ``exc`` (its nearest class listed)."""
        registered = self.exceptions
        if registered:
            for cls in type(exc).__mro__:
                code = registered.get(cls)
                if code is not None:
                    return code
        return None

    def _serve_own(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        exc: Exception,
        own: WSGIApplication,
    ) -> Iterable[bytes] | None:
        """Send the response an HTTP exception makes itself (a redirect, a 304,
        a ready-made response) through the same decision as any response:
        1xx-3xx go out untouched, 4xx/5xx pages become JSON. ``None`` when
        the exception failed to make its response."""
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            method, path = request_line(environ)
            logger.debug(
                "%s %s: %s answered with its own response", method, path, type(exc).__name__
            )
        exc_info: ExcInfo | None = None
        if environ.get(self._started_key):
            # The server has the app's status already: replace it (PEP 3333).
            exc_info = (type(exc), exc, cast(TracebackType, exc.__traceback__))
        try:
            body = intercept(own, environ, start_response, self._decide_plan, exc_info)
        except Exception:
            if debug:
                logger.debug(
                    "%s %s: %s could not make its response",
                    method,
                    path,
                    type(exc).__name__,
                    exc_info=True,
                )
            return None
        finally:
            exc_info = None  # break the frame <-> traceback cycle
        return guard_body(body, environ, start_response, self._on_error)


# --- private helpers -------------------------------------------------------------


def _check_status(option: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 400 <= value <= 599:
        raise ValueError(f"{option}: statuses must be ints between 400 and 599, not {value!r}")
    return int(value)


def _check_exceptions(
    exceptions: Mapping[type[BaseException], int] | None,
) -> dict[type[BaseException], int]:
    if exceptions is None:
        return {}
    if not isinstance(exceptions, Mapping):
        raise TypeError("exceptions: must be a mapping of exception class -> status")
    checked: dict[type[BaseException], int] = {}
    for cls, code in exceptions.items():
        if not isinstance(cls, type) or not issubclass(cls, Exception):
            raise TypeError(f"exceptions: keys must be Exception subclasses, not {cls!r}")
        checked[cls] = _check_status("exceptions", code)
    return checked


def _check_types(types: Mapping[int, str] | None) -> dict[int, str]:
    if types is None:
        return {}
    if not isinstance(types, Mapping):
        raise TypeError("types: must be a mapping of status -> problem type URI")
    checked: dict[int, str] = {}
    for code, uri in types.items():
        if not isinstance(uri, str) or not uri.strip():
            raise ValueError(f"types: the type URI for {code!r} must be a non-empty str")
        checked[_check_status("types", code)] = uri
    return checked


def _is_json(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _prefers_json(accept: str | None) -> bool:
    """True unless ``Accept`` rates ``text/html`` higher than JSON.

    werkzeug skips what it cannot parse and raises only for a malformed type
    on *our* side (the three constants here), so client input cannot raise."""
    if not accept:
        return True
    parsed = parse_accept_header(accept, MIMEAccept)
    json_q = max(parsed.quality(JSON), parsed.quality(PROBLEM_JSON))
    return json_q >= parsed.quality("text/html")


def _classify(
    exc: Exception, registered: int | None, trusted: bool, environ: WSGIEnvironment
) -> tuple[int, str | None, Headers]:
    """The status, the description (None: not safe to show) and headers of
    ``exc``; ``registered`` is the status the ``exceptions`` option gives it,
    ``trusted`` whether a status it carries itself is believed.

    A 5xx never takes its description from the exception: the text of a
    server-side failure (an upstream API's error body, a connection string)
    is for the log, not the client."""
    code = registered
    if code is None:
        code = carried_status(exc, 400) if trusted else None
        if code is None:
            return 500, None, []
    text = exception_text(exc) if code < 500 else None
    headers = [
        (name, value)
        for name, value in exception_headers(exc, environ)
        if TOKEN.fullmatch(name)
        and name.lower() not in DROPPED_HEADERS
        and "\n" not in value
        and "\r" not in value
    ]
    return code, text, headers
