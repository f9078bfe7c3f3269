"""Compress responses: gzip, and brotli or zstandard when installed, chosen
from the request's ``Accept-Encoding``.

Use :class:`Compress` around an application that sends text (HTML, JSON,
JavaScript, CSS, SVG, XML...) and is served without a compressing reverse proxy
or CDN in front of it. It negotiates the content coding with q-values, adds
``Vary: Accept-Encoding``, gives the compressed variant its own ``ETag`` and
keeps conditional requests working against that ``ETag``, compresses small
known-length bodies whole (exact ``Content-Length``) and streams the rest with
bounded memory.

When NOT to use it:

- when nginx, a CDN or another proxy in front compresses already (the work is
  done twice, or the proxy's cache varies badly);
- for responses that reflect attacker-controlled input next to a secret (a CSRF
  token, a session identifier) over TLS: compression leaks their content
  through the response size (the BREACH attack). Mark such responses
  ``Cache-Control: no-transform`` or leave them out with ``content_types``;
- for data that is compressed already (images, video, archives, WOFF fonts):
  it is passed through, so the middleware costs a header check only.

Codings: ``gzip`` (always there; written by zlib, by the faster zlib-ng when
installed, or by ISA-L when asked: see ``backend``), ``br`` (the ``brotli`` package, extra
``wsgikit[brotli]``) and ``zstd`` (the ``zstandard`` package, extra
``wsgikit[zstd]``). ``deflate`` is not offered: clients disagree on whether it
means the zlib or the raw format. ``x-gzip`` in a request counts as ``gzip``.

Environ keys read: ``HTTP_ACCEPT_ENCODING``, ``HTTP_IF_NONE_MATCH``,
``HTTP_IF_MATCH``, ``REQUEST_METHOD``. Written: ``HTTP_IF_NONE_MATCH`` and
``HTTP_IF_MATCH`` (the identity ``ETag`` of a compressed variant's ``ETag`` is
added, see :class:`Compress`), with the original values kept in
``environ["wsgikit.compress.orig"]`` (a dict keyed by the environ keys it
changed). Logs go to the logger ``wsgikit.compress``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TypeAlias
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.datastructures import Accept
from werkzeug.http import parse_accept_header

from . import _deflate
from ._codecs import check_encodings, encode_stream, make_codec
from ._edit import intercept_headers
from ._http import (
    MediaMatcher,
    log_safe,
    media_patterns,
    select_by_type,
    transformable,
    with_vary,
)
from ._options import check_int
from ._response import Buffer, Decide, EditHeaders, Headers, Plan, Stream, intercept
from ._variants import expand_condition, not_modified_headers, variant_headers

logger = logging.getLogger("wsgikit.compress")

#: Server preference among the codings, best first (only the installed ones
#: are used by default).
DEFAULT_ENCODINGS = ("br", "zstd", "gzip")

#: Media types compressed by default. ``type/*`` matches a whole top-level type,
#: ``+suffix`` any structured-syntax suffix (``application/ld+json``,
#: ``image/svg+xml``). Images, audio, video, archives, PDF, WOFF fonts and
#: ``application/octet-stream`` are left out: they are compressed already.
DEFAULT_CONTENT_TYPES = (
    "text/*",
    "+json",
    "+xml",
    "application/json",
    "application/x-ndjson",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/wasm",
    "application/graphql",
    "application/vnd.ms-fontobject",
    "font/ttf",
    "font/otf",
    "font/collection",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)

#: Streamed responses of these types are flushed after every chunk.
DEFAULT_FLUSH_TYPES = ("text/event-stream",)

# Negotiation results are cached per Accept-Encoding value (browsers send a
# handful of distinct values); values longer than this are not cached.
_CACHE_SIZE = 256
_CACHE_KEY_MAX = 200
# A negotiation result: coding, identity refused, decide for GET, for HEAD.
_Choice: TypeAlias = tuple[str | None, bool, Decide, Decide]
# What a Content-Type value means here (cached per value).
_NOT_COMPRESSIBLE, _COMPRESSIBLE, _FLUSH_EACH = 0, 1, 2


class Compress:
    """Compress responses with the best coding the client accepts.

    - The coding is chosen from ``Accept-Encoding`` (parsed by werkzeug, with
      q-values): the highest q among ``encodings`` wins, ties go to the order
      of ``encodings``; ``*`` stands for every coding not listed; a coding with
      ``q=0`` is never used. ``identity`` listed with a higher q than every
      coding gets the body uncompressed. No ``Accept-Encoding`` header (or an
      empty or unparseable one) means no compression: RFC 9110 would allow
      any coding, but clients that send nothing rarely decode one.
    - A response is *compressible* when its media type matches
      ``content_types``, it has no ``Content-Encoding`` but a lone
      ``identity`` (``gzip, identity``, in one header or two, is gzip), no
      ``Cache-Control: no-transform``, and its status has a body and is not
      ``206`` (the test :class:`~wsgikit.BodyRewriter` uses too). Every
      compressible response gets ``Vary: Accept-Encoding`` -- compressed or
      not, whatever its size -- merged into an existing ``Vary`` (never
      duplicated; several ``Vary`` headers become one; ``Vary: *`` is left
      alone).
    - Everything else passes through untouched and unbuffered: the
      application's own iterable goes to the server (``wsgi.file_wrapper``
      keeps working). Compressible responses that are not compressed (no
      acceptable coding, or a ``Content-Length`` below ``min_size``) get only
      the ``Vary`` header and stream through too. When the client refuses
      ``identity`` (``identity;q=0`` or ``*;q=0``), ``min_size`` is ignored;
      when it refuses every coding as well, the body goes out uncompressed.
    - A compressed response loses ``Content-Length`` (recomputed or dropped,
      below), ``Content-MD5``, ``Content-Digest``, ``Repr-Digest``, ``Digest``
      and ``Accept-Ranges`` (as after :class:`~wsgikit.BodyRewriter`), gains
      ``Content-Encoding``, and its ``ETag`` gets the coding as a suffix inside
      the quotes
      (``"abc"`` becomes ``"abc-gzip"``, ``W/"abc"`` becomes ``W/"abc-gzip"``),
      since the variants' bytes differ. An ``ETag`` that cannot be quoted again
      is dropped.
    - Conditional requests keep working: before calling the application, an
      ``If-None-Match`` tag ending in the negotiated coding's suffix gets its
      identity tag added (``"abc-gzip"`` -> ``"abc-gzip", "abc"``), so the
      application's own conditional logic answers ``304``; the ``ETag`` of that
      ``304`` is mapped back to the variant the client holds, and gets
      ``Vary``. ``If-Match`` tags with the suffix of any enabled coding get
      the same treatment (a ``PUT`` with the ``ETag`` of a compressed ``GET``
      still matches). A ``304`` to a request that did not prove it holds a
      compressed variant (no such ``If-None-Match`` tag) passes through as it
      is: its media type, and so its variant, is unknown.
    - Buffered or streamed: a compressed body whose ``Content-Length`` is known
      and at most ``buffer_limit`` is compressed whole and sent with the exact
      ``Content-Length``; when the coded body is not smaller than the body
      itself (data that does not compress), the body goes out uncompressed,
      still with ``Vary`` (unless the client refuses ``identity``). A longer
      or unknown-length body, and every ``text/event-stream``
      (``flush_types``), is compressed as it streams
      (``Content-Length`` removed, memory bounded by the codec's window and
      one chunk).
    - Flush policy of a stream: the first non-empty chunk is flushed at once
      (the head of a page leaves before the application's slow part); after
      that the encoder runs without flushing -- zlib emits a block every few
      tens of KiB on its own -- and is flushed after a chunk once
      ``flush_size`` bytes went in since the last flush, which keeps the ratio
      close to one-shot compression however the application chunks its body.
      Responses of a ``flush_types`` media type are flushed after every chunk,
      so each Server-Sent Event reaches the client as it is produced. Each
      application chunk gives at least one (possibly empty) output chunk, as
      PEP 3333 asks of middleware.
    - ``HEAD`` gets the headers ``GET`` would get (``Content-Encoding``,
      variant ``ETag``, ``Vary``) but no ``Content-Length``, since the
      compressed length is unknown without the body; the application's body,
      if any, is not read (so a ``GET`` whose body does not shrink, sent
      uncompressed, is the one case where the two differ).
    - A replacement (``start_response(..., exc_info)``) is decided afresh and
      its headers always describe its body. Made before the application
      returned its iterable, it is compressed like any response. Made later,
      it is compressed only when it would stream and replaces a response that
      is being compressed as it streams; otherwise (a passed-through body,
      whose iterable the server already holds, or a body to compress whole)
      it goes out exactly as the application made it.

    Environ keys: reads ``HTTP_ACCEPT_ENCODING``, ``HTTP_IF_NONE_MATCH``,
    ``HTTP_IF_MATCH``, ``REQUEST_METHOD``; may change ``HTTP_IF_NONE_MATCH``
    and ``HTTP_IF_MATCH``, keeping the originals in
    ``environ["wsgikit.compress.orig"]``.

    :param app: The WSGI application to wrap.
    :param min_size: Responses whose ``Content-Length`` is below this many
        bytes are not compressed (the framing costs more than it saves).
        Bodies of unknown length are always compressed.
    :param level: The gzip compression level, 1 (fastest) to 9 (smallest);
        0 to 3 with the ``isal`` backend.
    :param encodings: The codings to offer, in the server's order of
        preference for ties: any of ``"br"``, ``"zstd"``, ``"gzip"``. The
        default offers every installed one, in that order. Naming one whose
        package is not installed is an error.
    :param content_types: The compressible media types: a list of patterns
        (``"type/subtype"``, ``"type/*"``, ``"*/*"`` or a ``"+suffix"`` such as
        ``"+json"``), or one string of them separated by commas or spaces;
        matched case-insensitively, parameters ignored -- the same contract as
        :class:`~wsgikit.BodyRewriter`'s. The default is
        :data:`DEFAULT_CONTENT_TYPES`.
    :param buffer_limit: Bodies with a ``Content-Length`` up to this many bytes
        are compressed whole; longer ones are streamed. ``0`` streams every
        body.
    :param flush_size: In a stream, flush the encoder after a chunk once this
        many uncompressed bytes went in since the last flush.
    :param flush_types: Media types (patterns as in ``content_types``; may be
        empty) whose
        compressed body is always streamed, never buffered, and flushed after
        every chunk. Defaults to ``text/event-stream``. They are compressed
        only if ``content_types`` matches them too.
    :param brotli_quality: The brotli quality, 0 to 11.
    :param zstd_level: The zstandard level, 1 to 22.
    :param backend: The deflate engine writing gzip, for the buffered and the
        streamed path alike: ``"zlib"`` (the standard library), ``"zlib-ng"``
        (extra ``wsgikit[zlib-ng]``: zlib's sizes in less time) or ``"isal"``
        (extra ``wsgikit[isal]``, ISA-L: much faster, larger output, levels 0
        to 3). ``None`` (the default) picks ``zlib-ng`` when it is installed,
        else ``zlib``. Every one writes standard, deterministic gzip, but the
        bytes differ between engines. The attribute holds the engine chosen.

    .. code-block:: python

        from wsgikit import Compress

        app.wsgi_app = Compress(app.wsgi_app, min_size=1024, level=6)
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        min_size: int = 500,
        level: int = 6,
        encodings: Iterable[str] | None = None,
        content_types: Iterable[str] = DEFAULT_CONTENT_TYPES,
        buffer_limit: int = 1024 * 1024,
        flush_size: int = 64 * 1024,
        flush_types: Iterable[str] = DEFAULT_FLUSH_TYPES,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        backend: str | None = None,
    ) -> None:
        self.app = app
        self.min_size = check_int("min_size", min_size, minimum=0, unit="bytes")
        self.level = check_int("level", level, minimum=0, maximum=9)
        self.backend = _deflate.choose(backend, self.level)
        self.buffer_limit = check_int("buffer_limit", buffer_limit, minimum=0, unit="bytes")
        self.flush_size = check_int("flush_size", flush_size, minimum=1, unit="bytes")
        self.brotli_quality = check_int("brotli_quality", brotli_quality, minimum=0, maximum=11)
        self.zstd_level = check_int("zstd_level", zstd_level, minimum=1, maximum=22)
        self.encodings = check_encodings(encodings, DEFAULT_ENCODINGS)
        self.content_types = media_patterns("content_types", content_types)
        self.flush_types = media_patterns("flush_types", flush_types, allow_empty=True)

        self._codecs = {
            name: make_codec(name, self.level, self.backend, brotli_quality, zstd_level)
            for name in self.encodings
        }
        self._suffixes = tuple((f"-{name}", name) for name in self.encodings)
        self._compressible = MediaMatcher(self.content_types)
        self._flushed = MediaMatcher(self.flush_types)
        # Content-Type value -> what it means here (see _classify), shared by
        # the decide functions.
        self._kinds: dict[str, int] = {}
        self._vary_decide = select_by_type(self._classify, self._vary_headers, self._kinds)
        # Per (coding, identity refused): the decide functions for GET and
        # HEAD, made once, so that a request allocates no closure.
        self._choices = {
            (coding, refused): self._choice(coding, refused)
            for coding in (*self.encodings, None)
            for refused in (False, True)
        }
        self._no_coding = self._choices[None, False]
        # Accept-Encoding value -> one of the _choices.
        self._negotiated: dict[str, _Choice] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        accept = environ.get("HTTP_ACCEPT_ENCODING")
        choice = self._negotiated.get(accept) if accept else self._no_coding
        if choice is None:
            choice = self._choices[self.negotiate(accept)]
        if "HTTP_IF_MATCH" in environ:
            expand_condition(environ, "HTTP_IF_MATCH", self._suffixes)
        coding, identity_refused, decide, decide_head = choice
        if coding is None:
            # Nothing to encode: at most `Vary: Accept-Encoding` is added, a
            # header edit, so the header-only path will do (it costs less than
            # intercept() on every request that accepts no coding).
            return intercept_headers(self.app, environ, start_response, self._vary_edit)
        if environ.get("REQUEST_METHOD") == "HEAD":
            decide = decide_head
        if "HTTP_IF_NONE_MATCH" in environ:
            held = expand_condition(environ, "HTTP_IF_NONE_MATCH", ((f"-{coding}", coding),))
            if held:
                decide = partial(self._decide_held, coding, held, decide)
        return intercept(self.app, environ, start_response, decide)

    def _choice(self, coding: str | None, identity_refused: bool) -> _Choice:
        # The media type is looked at first: most responses that pass through
        # stop there, at the cost of one Python call.
        if coding is None:
            # Vary only, for GET and HEAD alike (__call__ takes _vary_edit).
            return coding, identity_refused, _pass, _pass
        return (
            coding,
            identity_refused,
            select_by_type(
                self._classify, partial(self._decide, coding, identity_refused, False), self._kinds
            ),
            select_by_type(
                self._classify, partial(self._decide, coding, identity_refused, True), self._kinds
            ),
        )

    # --- negotiation -----------------------------------------------------------

    def negotiate(self, accept_encoding: str | None) -> tuple[str | None, bool]:
        """Return the coding to use for ``accept_encoding`` (``None``: identity)
        and whether the client refuses ``identity``. Never raises."""
        if not accept_encoding:
            return None, False
        cached = self._negotiated.get(accept_encoding)
        if cached is not None:
            return cached[0], cached[1]
        result = self._negotiate(accept_encoding)
        if len(accept_encoding) <= _CACHE_KEY_MAX:
            if len(self._negotiated) >= _CACHE_SIZE:
                self._negotiated.clear()
            self._negotiated[accept_encoding] = self._choices[result]
        return result

    def _negotiate(self, accept_encoding: str) -> tuple[str | None, bool]:
        try:
            accept = parse_accept_header(accept_encoding, Accept)
        except Exception:  # never let a hostile header become a 500
            logger.info("ignoring unparseable Accept-Encoding %s", log_safe(accept_encoding))
            return None, False
        qualities: dict[str, float] = {}
        # Sorted best first, so for a coding listed twice the higher q wins.
        for value, quality in accept:
            name = value.split(";", 1)[0].strip().lower()
            if name == "x-gzip":
                name = "gzip"
            if name and name not in qualities:
                qualities[name] = quality
        if not qualities:
            logger.debug("no usable entry in Accept-Encoding %s", log_safe(accept_encoding))
            return None, False
        star = qualities.get("*")
        best: str | None = None
        best_q = 0.0
        for name in self.encodings:
            offered = qualities.get(name, star)
            if offered is not None and offered > best_q:
                best, best_q = name, offered
        identity_q = qualities.get("identity", star)
        if identity_q is not None and identity_q > best_q:
            best = None
        return best, identity_q == 0

    # --- the response ------------------------------------------------------------

    def _vary_edit(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
        """The header edit for a request that accepts no coding: ``Vary:
        Accept-Encoding`` on a response that would be compressed for another."""
        varied = self._vary_decide(environ, status, headers)
        return headers if varied is None else varied

    def _vary_headers(
        self, environ: WSGIEnvironment, status: str, headers: Headers, kind: int
    ) -> Headers | None:
        """A compressible media type: the headers with ``Vary``, or ``None``
        when the body may not be transformed."""
        facts = transformable(status, headers)
        if facts is None:
            return None
        # Without a Vary header the answer is plain; with_vary would scan the
        # headers again (measurable on this pass-through path).
        if not facts[1]:
            return [*headers, ("Vary", "Accept-Encoding")]
        return with_vary(headers, "Accept-Encoding")

    def _decide(
        self,
        coding: str,
        identity_refused: bool,
        head: bool,
        environ: WSGIEnvironment,
        status: str,
        headers: Headers,
        kind: int,
    ) -> Plan:
        """A compressible media type and a coding to use: compress, or add ``Vary``."""
        facts = transformable(status, headers)
        if facts is None:
            return None
        content_length, has_vary = facts
        # As in _vary_headers.
        varied = (
            with_vary(headers, "Accept-Encoding")
            if has_vary
            else [*headers, ("Vary", "Accept-Encoding")]
        )
        length = _parse_length(content_length)
        if length is not None and length < self.min_size and not identity_refused:
            return None if varied is headers else EditHeaders(status, varied)

        codec = self._codecs[coding]
        compressed = variant_headers(varied, coding)
        if head:
            return Stream(status, compressed, _nothing)
        flush_each = kind == _FLUSH_EACH
        if flush_each or length is None or length > self.buffer_limit:
            encode = partial(encode_stream, codec.stream, flush_each, self.flush_size)
            return Stream(status, compressed, encode)
        return Buffer(
            partial(_finish, compressed, None if identity_refused else varied, codec.whole),
            limit=self.buffer_limit,
            on_overflow=_overflowed,
        )

    def _decide_held(
        self,
        coding: str,
        held: frozenset[str],
        decide: Decide,
        environ: WSGIEnvironment,
        status: str,
        headers: Headers,
    ) -> Plan:
        """``decide`` for a request holding a compressed variant (``held``: the
        identity tags its ``If-None-Match`` named): a 304 gets the variant's
        ``ETag`` back."""
        if status[:3] == "304":
            mapped = not_modified_headers(headers, coding, held)
            return EditHeaders(status, with_vary(mapped, "Accept-Encoding"))
        return decide(environ, status, headers)

    def _classify(self, content_type: str) -> int:
        """Whether a ``Content-Type`` value is compressible (and flushed after
        every chunk); the decide functions cache the answer per value."""
        if not self._compressible(content_type):
            return _NOT_COMPRESSIBLE
        return _FLUSH_EACH if self._flushed(content_type) else _COMPRESSIBLE


# --- private helpers ---------------------------------------------------------------


def _parse_length(value: str | None) -> int | None:
    """The ``Content-Length`` as an int, or ``None`` when absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and value.isascii() else None


def _finish(
    headers: Headers,
    identity_headers: Headers | None,
    whole: Callable[[bytes], bytes],
    status: str,
    _headers: Headers,
    body: bytes,
) -> tuple[str, Headers, bytes]:
    """The buffered plan: the whole body compressed in one call, or sent as it
    is (with ``identity_headers``, unless ``None``) when that is not larger."""
    coded = whole(body)
    if identity_headers is not None and len(coded) >= len(body):
        return status, identity_headers, body
    return status, headers, coded


def _overflowed(size: int) -> None:
    logger.warning(
        "response body passed its Content-Length (%d bytes read): sent uncompressed", size
    )


def _pass(environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
    """The decide functions of the no-coding choices, which ``__call__`` never
    calls (it edits headers only, with ``_vary_edit``)."""
    return None


def _nothing(chunks: Iterator[bytes]) -> Iterable[bytes]:
    """The body of a ``HEAD`` response: none (the application's is not read)."""
    return ()
