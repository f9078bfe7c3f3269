"""A limit on the size of request bodies.

:class:`MaxBodySize` refuses a request whose ``Content-Length`` is over the
limit with ``413`` before the application runs, and bounds a body of unknown
length (``Transfer-Encoding: chunked`` passed through by the server) while the
application reads it: past the limit, reading raises :class:`BodyTooLarge`,
which becomes a ``413`` -- the application never gets a cut-off body as if it
were complete.

Use it in front of applications that read whole bodies into memory (JSON
APIs, form parsers). Your WSGI server may have a limit of its own (waitress's
``max_request_body_size``, 1 GiB by default): this one is per application,
gives a clear ``413``, and works behind any server. Put
:class:`~wsgikit.errors.JSONErrors` outside it to get the ``413`` as problem
JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from wsgiref.types import InputStream, StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.exceptions import RequestEntityTooLarge

from ._error_log import answer, guard_body
from ._http import log_escape
from ._options import check_int
from ._response import Headers, Plan, intercept

logger = logging.getLogger("wsgikit.body_size")

TOO_LARGE = "413 Content Too Large"
BAD_REQUEST = "400 Bad Request"
_PLAIN_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_INVALID_LENGTH = b"Invalid Content-Length header.\n"
# Methods whose body is not bounded when it has no declared length.
_NO_BODY = frozenset({"GET", "HEAD"})


class BodyTooLarge(RequestEntityTooLarge):
    """Raised by ``wsgi.input`` when the application reads past the limit.

    A werkzeug ``RequestEntityTooLarge`` (``code = 413``): Flask and other
    werkzeug-based applications answer it with their own 413 page,
    :class:`~wsgikit.errors.JSONErrors` with a 413 problem, and
    :class:`MaxBodySize` itself with a plain-text 413 when it reaches it.

    :param limit: The limit in bytes that was crossed.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the limit of {limit} bytes.")
        self.limit = limit


class MaxBodySize:
    """Refuse request bodies over ``limit`` bytes with ``413 Content Too Large``.

    - A ``Content-Length`` over the limit is answered with ``413`` (plain
      text) at once; the application is not called and the body is not read.
    - An invalid ``Content-Length`` (not a plain decimal number) is answered
      with ``400``.
    - A request with ``Transfer-Encoding`` (a chunked body the server hands on
      undecoded, as gunicorn and werkzeug's server do) gets a ``wsgi.input``
      that raises :class:`BodyTooLarge` as soon as a read would go past the
      limit, and on every read after that. Escaping the application, it
      becomes a ``413`` when no byte of the response was sent yet (with
      ``exc_info`` when the application had already called
      ``start_response``); otherwise it is re-raised.
    - A request with neither header whose server sets
      ``wsgi.input_terminated`` may still have a body (HTTP/2 and HTTP/3 front
      ends need no ``Content-Length``): unless it is a ``GET`` or ``HEAD``, its
      ``wsgi.input`` is bounded as for ``Transfer-Encoding``. ``GET`` and
      ``HEAD`` pass through untouched (a body means nothing for them, RFC 9110
      section 9.3, and bounding every ``GET`` would cost each one an
      interception); so does every request with neither header on a server
      without ``wsgi.input_terminated``, where it has no body (RFC 9112,
      section 6.3), and a ``Content-Length`` within the limit. Servers that
      decode chunked bodies themselves (waitress) send a ``Content-Length``.

    Refusals are logged at INFO (logger ``wsgikit.body_size``).

    Environ key replaced: ``wsgi.input`` (only for a body of unknown length).
    Read: ``CONTENT_LENGTH``, ``HTTP_TRANSFER_ENCODING``, ``REQUEST_METHOD``,
    ``wsgi.input_terminated``.

    :param app: The WSGI application to wrap.
    :param limit: The largest body accepted, in bytes (``0``: no body at all).

    .. code-block:: python

        from wsgikit import JSONErrors, MaxBodySize

        app = JSONErrors(MaxBodySize(app, 1024 * 1024))  # 1 MiB
    """

    def __init__(self, app: WSGIApplication, limit: int) -> None:
        self.app = app
        self.limit = limit = check_int("limit", limit, unit="bytes")
        self._digits = len(str(limit))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_TRANSFER_ENCODING"):
            # The length is unknown (and a Content-Length beside it means
            # nothing, RFC 9112 section 6.3): bound the reads. wsgi.input_terminated
            # alone is no sign of a body: waitress and gunicorn set it on every
            # request, and bounding every GET would cost each one an interception.
            return self._bounded(environ, start_response)
        length = environ.get("CONTENT_LENGTH")
        if not length:
            if environ.get("wsgi.input_terminated") and (
                environ.get("REQUEST_METHOD") not in _NO_BODY
            ):
                # No length, and the server says the input ends by itself
                # (HTTP/2): there may be a body; fail closed.
                return self._bounded(environ, start_response)
            return self.app(environ, start_response)
        if not (length.isdigit() and length.isascii()):
            logger.info("invalid Content-Length %s: answered 400", log_escape(length[:64]))
            return answer(environ, start_response, BAD_REQUEST, [_PLAIN_TEXT], _INVALID_LENGTH)
        if len(length) < self._digits:
            # Fewer digits than the limit: below it, whatever they are.
            return self.app(environ, start_response)
        digits = length.lstrip("0")
        if len(digits) > self._digits or int(digits or "0") > self.limit:
            # Compared by length first: int() refuses over 4300 digits.
            logger.info(
                "Content-Length %s over the limit of %d bytes: answered 413",
                log_escape(length[:64]),
                self.limit,
            )
            return self._too_large(environ, start_response, None)
        return self.app(environ, start_response)

    def _bounded(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stream = _LimitedInput(environ["wsgi.input"], self.limit)
        environ["wsgi.input"] = stream
        try:
            body = intercept(self.app, environ, start_response, stream.decide)
        except BodyTooLarge as exc:
            return self._too_large(environ, start_response, exc if stream.started else None)
        return guard_body(body, environ, start_response, self._on_body_error)

    def _on_body_error(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        exc: BaseException,
        sent: bool,
    ) -> Iterable[bytes] | None:
        """A :class:`BodyTooLarge` raised while the body was produced becomes a
        413 if nothing was sent; anything else is re-raised."""
        if sent or not isinstance(exc, BodyTooLarge):
            return None
        return self._too_large(environ, start_response, exc)

    def _too_large(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        exc: BodyTooLarge | None,
    ) -> Iterable[bytes]:
        body = f"The request body is larger than the limit of {self.limit} bytes.\n".encode()
        return answer(environ, start_response, TOO_LARGE, [_PLAIN_TEXT], body, exc)


class _LimitedInput:
    """``wsgi.input`` with a limit: a read that would go past it raises
    :class:`BodyTooLarge` (then every later read does too). Reads at most one
    byte more than the limit from the server's stream, to tell a body of
    exactly ``limit`` bytes from a longer one."""

    __slots__ = ("_stream", "limit", "_left", "started")

    def __init__(self, stream: InputStream, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        # Bytes that may still be read; -1 once the limit was crossed.
        self._left = limit
        # Whether the application called start_response (noted by the core).
        self.started = False

    def decide(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        self.started = True
        return None

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._bounded(self._stream.read, size)
        parts: list[bytes] = []
        while True:  # read() to the end: in steps that cannot pass the limit unseen
            data = self._bounded(self._stream.read, None)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def readline(self, size: int | None = -1) -> bytes:
        return self._bounded(self._stream.readline, size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _bounded(self, read: Callable[[int], bytes], size: int | None) -> bytes:
        """``read(size)`` when ``size`` fits in what is left; else (``None``,
        negative or too large) ``read`` of one byte more than is left, which
        raises if the data does not fit. Raises once the limit was crossed."""
        left = self._left
        if left < 0:
            raise BodyTooLarge(self.limit)
        if size is not None and 0 <= size <= left:
            data = read(size)
            self._left = left - len(data)
            return data
        return self._take(read(left + 1))

    def _take(self, data: bytes) -> bytes:
        """``data`` if it fits in what is left, counted; else raise."""
        if len(data) > self._left:
            self._left = -1
            logger.info(
                "request body over the limit of %d bytes (no Content-Length): refused",
                self.limit,
            )
            raise BodyTooLarge(self.limit)
        self._left -= len(data)
        return data
