"""Content-Length-safe rewriting of response bodies: ``BodyRewriter``.

Use :class:`BodyRewriter` to change the body of responses an application
produces without teaching the application about it: a function gets the whole
body and returns the new one (*buffered*, ``Content-Length`` recomputed), or
maps the stream of chunks to a new stream (*streaming*, ``Content-Length``
dropped so the server frames the body and memory stays bounded).
:class:`~wsgikit.InjectHTML` (in :mod:`wsgikit.inject_html`) is the common
case ready-made: it inserts a snippet before ``</body>`` of HTML pages, on the
machinery of this module.

Both select responses by content type (and optionally status) and pass every
other response through *untouched and unbuffered* -- the application's own
iterable goes to the server, so ``wsgi.file_wrapper`` keeps working. Responses
that are never rewritten, whatever the configuration:

- statuses without a body (1xx, 204, 304), and ``206 Partial Content``
  (a range of a representation cannot be rewritten on its own);
- a response with a ``Content-Encoding`` other than a lone ``identity``
  (``gzip, identity`` is gzip; a gzip body is not text: put
  :class:`BodyRewriter` *inside* any compression layer); :class:`Compress`
  uses the same test;
- ``Cache-Control: no-transform`` (RFC 9110 section 7.7);
- a buffered body larger than ``buffer_limit``: what was read and the rest go
  out unmodified, never truncated or half rewritten, and a warning is logged.

A ``HEAD`` request is selected by the same rules as a ``GET`` and gets the
header edits a rewrite makes (``ETag`` weakened, digests and ``Accept-Ranges``
removed; ``Content-Length`` removed too, see below), so that it carries the
headers of the ``GET`` (RFC 9110 section 9.3.2). Its body is neither read nor
rewritten: the length the rewritten body would have is unknown without
producing it, so no ``Content-Length`` is sent rather than a wrong one.

When NOT to use it: to rewrite huge or endless bodies in buffered mode (use
``stream=``), or to rewrite compressed responses (decompress first, or
rewrite below the compression layer).

The rewrite functions see and return ``bytes`` in the response's own encoding:
the charset is the function's business (:func:`declared_charset` reads it;
:class:`~wsgikit.InjectHTML` honours it). Nothing is read from or written to
the environ besides ``REQUEST_METHOD`` and ``PATH_INFO`` (for log lines); logs
go to the logger ``wsgikit.rewrite``.

:class:`~wsgikit.Compress` lives in :mod:`wsgikit.compress`, but is importable
from here as well: the product contract files compression under body rewriting
(``wsgikit.rewrite``), and code written against it imports it from here. Both
names are the same class. :class:`~wsgikit.InjectHTML` likewise lives in
:mod:`wsgikit.inject_html` and stays importable from here, because the product
contract (``DESIGN.md``) files it under ``wsgikit.rewrite``; it is loaded on
first access, as :mod:`wsgikit.inject_html` builds on this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, partial
from typing import TYPE_CHECKING, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.http import parse_options_header

from ._error_log import request_line
from ._http import (
    STALE_AFTER_TRANSFORM,
    MediaMatcher,
    get_header,
    media_patterns,
    select_by_type,
    status_code,
    transformable,
    transformed_headers,
)
from ._options import check_int, check_items
from ._response import Buffer, EditHeaders, Headers, Plan, Stream, intercept

# Kept importable from here: see the module docstring.
from .compress import Compress as Compress

if TYPE_CHECKING:
    from .inject_html import InjectHTML as InjectHTML

logger = logging.getLogger("wsgikit.rewrite")

#: The default ``buffer_limit``: 10 MiB.
DEFAULT_BUFFER_LIMIT = 10 * 1024 * 1024

Rewrite = Callable[[bytes], bytes]
StreamRewrite = Callable[[Iterator[bytes]], Iterable[bytes]]

# A HEAD cannot know the rewritten length either.
_STALE_FOR_HEAD = STALE_AFTER_TRANSFORM | {"content-length"}
_ERROR_STATUS = "500 Internal Server Error"
_ERROR_BODY = b"Internal Server Error\n"


class _Rewriter:
    """What :class:`BodyRewriter` and :class:`InjectHTML` share: options,
    selection of the responses to rewrite, header edits and error handling."""

    app: WSGIApplication
    content_types: tuple[str, ...]
    buffer_limit: int | None
    statuses: frozenset[int] | None
    _streaming = False

    def _configure(
        self,
        content_types: Iterable[str],
        buffer_limit: int | None,
        statuses: Iterable[int] | None,
    ) -> None:
        self.content_types = media_patterns("content_types", content_types)
        # The media type first: it rejects most pass-through responses, and
        # this runs on every request.
        self._decide = select_by_type(MediaMatcher(self.content_types), self._decide_typed)

        if buffer_limit is not None:
            buffer_limit = check_int("buffer_limit", buffer_limit, unit="bytes", none=True)
        self.buffer_limit = buffer_limit

        self.statuses = None if statuses is None else _status_set(statuses)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return intercept(self.app, environ, start_response, self._decide)

    def _decide_typed(
        self, environ: WSGIEnvironment, status: str, headers: Headers, matched: bool
    ) -> Plan:
        """The plan for a response of a selected media type."""
        if not self._selected(environ, status, headers):
            return None
        if environ.get("REQUEST_METHOD") == "HEAD":
            return self._head_plan(status, headers)
        return self._body_plan(environ, status, headers)

    def _selected(self, environ: WSGIEnvironment, status: str, headers: Headers) -> bool:
        """True when a response of a selected media type is to be rewritten
        (see the module docstring)."""
        facts = transformable(status, headers)
        if facts is None:
            return False
        if self.statuses is not None and status_code(status) not in self.statuses:
            return False
        return not self._too_long(environ, facts[0])

    def _too_long(self, environ: WSGIEnvironment, length: str | None) -> bool:
        """Pass through, without reading it, a body declared larger than the limit."""
        if self.buffer_limit is None or length is None or self._streaming:
            return False
        try:
            size = int(length)
        except ValueError:
            return False
        if size <= self.buffer_limit:
            return False
        logger.warning(
            "%s: not rewritten, Content-Length %d exceeds buffer_limit=%d",
            _request_line(environ),
            size,
            self.buffer_limit,
        )
        return True

    def _head_plan(self, status: str, headers: Headers) -> Plan:
        """A selected ``HEAD``: the headers a rewritten ``GET`` gets, without
        ``Content-Length`` (unknown without rewriting); the body is not read."""
        return EditHeaders(status, _rewritten_headers(headers, _STALE_FOR_HEAD))

    def _body_plan(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        """A selected ``GET`` (or other method): rewrite the body, buffered."""
        return Buffer(
            partial(self._finish, environ),
            limit=self.buffer_limit,
            on_overflow=partial(_log_overflow, environ, self.buffer_limit),
        )

    def _finish(
        self, environ: WSGIEnvironment, status: str, headers: Headers, body: bytes
    ) -> tuple[str, Headers, bytes]:
        """The buffered plan's end: rewrite, or a 500 when the rewrite fails."""
        try:
            new_body = _as_bytes(self._apply(headers, body), "rewrite")
        except Exception:
            logger.exception(
                "%s: the body rewrite failed; sending a 500 instead",
                _request_line(environ),
            )
            return _ERROR_STATUS, _error_headers(), _ERROR_BODY  # Content-Length: core
        if new_body == body:
            # Unchanged: the validators and digests still hold.
            return status, headers, body
        return status, _rewritten_headers(headers), new_body

    def _apply(self, headers: Headers, body: bytes) -> bytes:
        raise NotImplementedError


class BodyRewriter(_Rewriter):
    """Rewrite response bodies, buffered or streaming, keeping HTTP framing right.

    - *Buffered* (``rewrite=``): the whole body (``write()`` output included) is
      collected, ``rewrite(body)`` returns the new one and ``Content-Length`` is
      set to its length. Past ``buffer_limit`` bytes the response goes out
      unmodified (what was read first, then the rest) and a warning is logged.
      A body declared larger than the limit is not even read ahead.
    - *Streaming* (``stream=``): ``stream(chunks)`` gets an iterator over the
      application's chunks and returns an iterable of new chunks, produced as
      they are read; ``Content-Length`` is removed so the server frames the
      body.
    - Only responses whose media type matches ``content_types`` are touched;
      everything listed in the module docstring (1xx, 204, 206, 304,
      ``Content-Encoding``, ``Cache-Control: no-transform``) passes through
      unbuffered, and so does a response without ``Content-Type``.
    - A selected ``HEAD`` response gets the header edits below (and loses
      ``Content-Length``, whose rewritten value is unknown) so it matches the
      ``GET``; its body is not read and ``rewrite``/``stream`` is not called.
      The ``GET`` may still differ where only its body tells: a buffered
      rewrite that returns the body unchanged, or a body past
      ``buffer_limit`` without a declared ``Content-Length``.
    - After a rewrite a strong ``ETag`` is made weak (``"x"`` becomes
      ``W/"x"``): the new body is still a faithful representation, so
      ``If-None-Match`` revalidation keeps working, but it is no longer the
      byte-identical one a strong validator promises. ``Content-MD5``,
      ``Content-Digest``, ``Repr-Digest``, ``Digest`` and ``Accept-Ranges``
      are removed. A buffered rewrite that returns the body unchanged leaves
      every header as it was.
    - If ``rewrite`` raises (or returns something that is not bytes), the
      client gets a plain ``500 Internal Server Error`` (without the
      application's headers) instead of a half response, and the traceback
      is logged to ``wsgikit.rewrite``. In
      streaming mode the same happens while no byte of the body went out;
      after that the exception is logged and re-raised, so the server drops
      the connection rather than end a truncated body cleanly. The
      application's iterable is closed exactly once in every case.
    - Bodies are ``bytes`` in and out, in the response's own encoding; decode
      them yourself (the ``charset`` parameter of ``Content-Type``, UTF-8
      for most HTML). A ``start_response(..., exc_info)`` replacement made
      before the application returned is selected and rewritten like any
      response, and so is one made while a streaming rewrite runs; one made
      while a passed-through body is being sent goes out exactly as the
      application made it (its headers always describe its body).

    Environ keys: reads ``REQUEST_METHOD`` (and ``PATH_INFO`` for log lines),
    writes none.

    :param app: The WSGI application to wrap.
    :param rewrite: A function ``rewrite(body: bytes) -> bytes`` for buffered
        rewriting. Give exactly one of ``rewrite`` and ``stream``.
    :param stream: A function ``stream(chunks: Iterator[bytes]) ->
        Iterable[bytes]`` for streaming rewriting, typically a generator.
    :param content_types: Media types to rewrite: a list of patterns
        (``"type/subtype"``, ``"text/*"`` for every ``text/`` subtype,
        ``"*/*"`` for every type, ``"+json"`` for every type with that
        suffix), or one string of them separated by commas or spaces; compared
        without parameters and case-insensitively, as :class:`Compress` does.
        Defaults to HTML only.
    :param buffer_limit: The largest body, in bytes, that buffered mode
        collects; larger bodies go out unmodified with a warning. ``None``
        means no limit. Defaults to 10 MiB. Unused in streaming mode.
    :param statuses: Status codes to rewrite. ``None`` (the default) means
        every status that carries a full body (all but 1xx, 204, 206, 304).

    .. code-block:: python

        def add_footer(body: bytes) -> bytes:
            return body.replace(b"</footer>", b"<p>Served by wsgikit</p></footer>")

        app = BodyRewriter(app, add_footer)

        def shout(chunks):
            for chunk in chunks:
                yield chunk.upper()

        app = BodyRewriter(app, stream=shout, content_types=("text/plain",))
    """

    def __init__(
        self,
        app: WSGIApplication,
        rewrite: Rewrite | None = None,
        *,
        stream: StreamRewrite | None = None,
        content_types: Iterable[str] = ("text/html",),
        buffer_limit: int | None = DEFAULT_BUFFER_LIMIT,
        statuses: Iterable[int] | None = None,
    ) -> None:
        self.app = app
        if (rewrite is None) == (stream is None):
            raise TypeError(
                "BodyRewriter needs exactly one of rewrite= (buffered) or stream= (streaming)"
            )
        if rewrite is not None and not callable(rewrite):
            raise TypeError(f"rewrite: must be a callable bytes -> bytes, not {rewrite!r}")
        if stream is not None and not callable(stream):
            raise TypeError(
                f"stream: must be a callable Iterator[bytes] -> Iterable[bytes], not {stream!r}"
            )
        self.rewrite = rewrite
        self.stream = stream
        self._streaming = stream is not None
        self._configure(content_types, buffer_limit, statuses)

    def _body_plan(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        if self.stream is None:
            return super()._body_plan(environ, status, headers)
        return Stream(
            status,
            _rewritten_headers(headers),
            partial(_stream_bytes, self.stream),
            on_error=partial(_stream_failed, environ),
        )

    def _apply(self, headers: Headers, body: bytes) -> bytes:
        return cast(Rewrite, self.rewrite)(body)


def __getattr__(name: str) -> object:
    # ``from wsgikit.rewrite import InjectHTML`` (see the module docstring):
    # imported here, not at the top, since ``inject_html`` imports this module.
    if name == "InjectHTML":
        from .inject_html import InjectHTML

        return InjectHTML
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- helpers --------------------------------------------------------------------


def declared_charset(headers: Headers) -> str | None:
    """The ``charset`` parameter of ``Content-Type`` in ``headers``, lower-case, or ``None``."""
    content_type = get_header(headers, "content-type")
    return None if content_type is None else _charset_of(content_type)


@lru_cache(maxsize=64)
def _charset_of(content_type: str) -> str | None:
    # Cached: an application sends a handful of distinct Content-Type values.
    charset = parse_options_header(content_type)[1].get("charset")
    return (charset.strip().lower() or None) if charset else None


def _rewritten_headers(headers: Headers, stale: frozenset[str] = STALE_AFTER_TRANSFORM) -> Headers:
    """A copy of ``headers`` fit for a rewritten body: strong ``ETag`` made weak
    (dropped when it cannot be quoted again), ``Content-MD5``, digests and
    ``Accept-Ranges`` (all ``stale`` headers) removed."""
    return transformed_headers(headers, stale, logger, weak=True)


def _status_set(statuses: Iterable[int]) -> frozenset[int]:
    accepted = "a list of status codes 200-599 except 204, 206 and 304"
    values = check_items("statuses", statuses, "status codes 200-599 except 204, 206 and 304")
    for code in values:
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(f"statuses: must be {accepted}, not a list holding {code!r}")
        if not 200 <= code <= 599 or code in (204, 206, 304):
            raise ValueError(f"statuses: must be {accepted}, not a list holding {code}")
    return frozenset(cast(tuple[int, ...], values))


def _as_bytes(value: object, option: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{option} must return bytes, not {type(value).__name__}")


def _error_headers() -> Headers:
    return [("Content-Type", "text/plain; charset=utf-8")]  # Content-Length: the core


def _request_line(environ: WSGIEnvironment) -> str:
    """Method and path of the request, escaped for a log line (the one
    escaper's, as every layer's log lines)."""
    return " ".join(request_line(environ))


def _log_overflow(environ: WSGIEnvironment, limit: int | None, size: int) -> None:
    logger.warning(
        "%s: not rewritten, body grew past buffer_limit=%s (%d bytes read); sent unmodified",
        _request_line(environ),
        limit,
        size,
    )


def _stream_bytes(stream: StreamRewrite, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The output of the user's ``stream`` function, which must be bytes.

    (The core checks the application's chunks before ``stream`` sees them, so
    a ``str`` here is the function's own.)
    """
    for chunk in stream(chunks):
        yield chunk if type(chunk) is bytes else _as_bytes(chunk, "stream")


def _stream_failed(
    environ: WSGIEnvironment, exc: Exception, sent: bool
) -> tuple[str, Headers, bytes] | None:
    """The streaming rewrite raised (the core tells its errors from the
    application's): a 500 while nothing went out, else abort."""
    logger.error(
        "%s: the streaming body rewrite failed%s",
        _request_line(environ),
        " after the body started; aborting" if sent else "; sending a 500",
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    if sent:
        return None
    return _ERROR_STATUS, _error_headers(), _ERROR_BODY
