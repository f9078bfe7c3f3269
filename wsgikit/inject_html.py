"""Insert a snippet into HTML pages, before ``</body>``: ``InjectHTML``.

Use :class:`InjectHTML` to add the same markup to every HTML page an
application produces without touching its templates: an analytics tag, a
live-reload script, a staging banner. The snippet goes in once, before the
last ``</body>`` (or another marker), encoded in the charset the page declares.

It is :class:`~wsgikit.BodyRewriter` in buffered mode with the rewrite
written for you, so it selects, passes through and limits responses by the
same rules (see :mod:`wsgikit.rewrite`): only ``text/html`` and
``application/xhtml+xml`` by default, never compressed, partial or bodiless
responses, nothing larger than ``buffer_limit`` is collected, ``HEAD`` gets
the headers of the ``GET``. Logs go to the logger ``wsgikit.rewrite``, like
every body rewrite.

When NOT to use it: on pages in UTF-16, UTF-32 or EBCDIC (sent unmodified:
their markup cannot be searched byte-wise), above a compression layer (put it
inside :class:`~wsgikit.Compress`), or for edits that depend on the page's
content (write a :class:`~wsgikit.BodyRewriter` function).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from wsgiref.types import WSGIApplication, WSGIEnvironment

from ._http import log_safe
from ._response import Headers, Plan
from .rewrite import DEFAULT_BUFFER_LIMIT, _Rewriter, declared_charset, logger

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class InjectHTML(_Rewriter):
    """Insert a snippet into HTML responses, before ``</body>`` (or another marker).

    - The marker is searched case-insensitively (ASCII letters), and the
      snippet goes in once, before the *last* occurrence: an earlier
      ``</body>`` is most likely inside a script, comment or ``<template>``,
      the last one closes the document. When the marker is missing (a
      fragment, a page relying on implied end tags) the snippet is appended
      at the end of the body.
    - A ``str`` snippet is encoded with the charset the response declares in
      ``Content-Type`` (UTF-8 when none is declared); characters that charset
      cannot represent become HTML character references. A ``bytes`` snippet
      is inserted as given. Responses in a charset that is unknown, or not
      ASCII-compatible (UTF-16, UTF-32, EBCDIC), pass through unmodified and
      unbuffered, with one warning per charset: their markup cannot be
      searched byte-wise.
    - Only ``text/html`` and ``application/xhtml+xml`` are touched, and the
      pass-through rules, ``ETag``/``Content-MD5`` handling and 500 on failure
      are those of :class:`BodyRewriter` (buffered mode), ``buffer_limit``
      included. ``HEAD`` responses get the headers of the ``GET`` (weak
      ``ETag``, no ``Content-Length``), with nothing read or injected.
      Nothing is injected into error pages with no body, or compressed
      responses: put ``InjectHTML`` inside ``Compress``.

    Environ keys: reads ``REQUEST_METHOD`` (and ``PATH_INFO`` for log lines),
    writes none.

    :param app: The WSGI application to wrap.
    :param snippet: The markup to insert, ``str`` (encoded as described
        above) or ``bytes``. Must not be empty.
    :param marker: The text to insert the snippet before, matched
        case-insensitively. Defaults to ``"</body>"``.
    :param content_types: Media types to inject into (patterns as for
        :class:`BodyRewriter`). Defaults to HTML and XHTML.
    :param buffer_limit: The largest body, in bytes, that is collected to
        inject into; larger bodies go out unmodified with a warning. ``None``
        means no limit. Defaults to 10 MiB.
    :param statuses: Status codes to inject into. ``None`` (the default)
        means every status that carries a full body, error pages included.

    .. code-block:: python

        app = InjectHTML(app, '<script src="/livereload.js"></script>')
    """

    def __init__(
        self,
        app: WSGIApplication,
        snippet: str | bytes,
        *,
        marker: str = "</body>",
        content_types: Iterable[str] = _HTML_TYPES,
        buffer_limit: int | None = DEFAULT_BUFFER_LIMIT,
        statuses: Iterable[int] | None = None,
    ) -> None:
        self.app = app
        if not isinstance(snippet, str | bytes):
            raise TypeError(f"snippet: must be str or bytes, not {type(snippet).__name__}")
        if not snippet:
            raise ValueError("snippet: must not be empty")
        if not isinstance(marker, str):
            raise TypeError(f"marker: must be a str, not {type(marker).__name__}")
        if not marker:
            raise ValueError("marker: must not be empty")
        self.snippet = snippet
        self.marker = marker
        self._configure(content_types, buffer_limit, statuses)
        # (snippet, lower-case marker) encoded per codec; None: cannot inject.
        self._encoded: dict[str, tuple[bytes, bytes | None] | None] = {}

    def _head_plan(self, status: str, headers: Headers) -> Plan:
        # A GET in an unsearchable charset goes out unchanged: so does HEAD.
        if self._encoded_for(declared_charset(headers) or "utf-8") is None:
            return None
        return super()._head_plan(status, headers)

    def _body_plan(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Plan:
        # An unsearchable charset is known from the headers: the body passes
        # through, streamed, instead of being buffered for nothing.
        if self._encoded_for(declared_charset(headers) or "utf-8") is None:
            return None
        return super()._body_plan(environ, status, headers)

    def _apply(self, headers: Headers, body: bytes) -> bytes:
        encoded = self._encoded_for(declared_charset(headers) or "utf-8")
        if encoded is None:  # pragma: no cover - _body_plan passed such a body through
            return body
        snippet, marker = encoded
        position = -1 if marker is None else _rfind_ascii_nocase(body, marker)
        if position < 0:
            return body + snippet
        view = memoryview(body)
        return b"".join((view[:position], snippet, view[position:]))

    def _encoded_for(self, charset: str) -> tuple[bytes, bytes | None] | None:
        """The snippet and marker encoded for ``charset`` (cached); ``None`` if unusable."""
        encoded = self._encoded.get(charset)
        if encoded is None and charset not in self._encoded:
            encoded = self._encode_for(charset)
            if len(self._encoded) < 64:  # charsets come from the app: few
                self._encoded[charset] = encoded
        return encoded

    def _encode_for(self, charset: str) -> tuple[bytes, bytes | None] | None:
        """Encode the snippet and marker for ``charset``; ``None`` if unusable
        (logged at WARNING, once per charset while the cache holds it)."""
        try:
            codec = codecs.lookup(charset).name
        except (LookupError, ValueError):
            logger.warning(
                "charset %s is unknown: responses in it are sent without the snippet",
                log_safe(charset),
            )
            return None
        try:
            searchable = "<x>".encode(codec) == b"<x>"
        except (UnicodeError, ValueError):
            searchable = False
        if not searchable:
            logger.warning(
                "charset %s is not ASCII-compatible: responses in it are sent without the snippet",
                log_safe(charset),
            )
            return None
        snippet = self.snippet
        if isinstance(snippet, str):
            snippet = snippet.encode(codec, "xmlcharrefreplace")
        try:
            marker: bytes | None = self.marker.lower().encode(codec)
        except UnicodeEncodeError:
            marker = None  # cannot occur in this charset: append at the end
        return snippet, marker


# --- helpers --------------------------------------------------------------------


def _rfind_ascii_nocase(body: bytes, lowered: bytes) -> int:
    """Start of the last occurrence of ``lowered`` in ``body``, ASCII letters
    compared case-insensitively; -1 if none.

    Lower-casing a whole page costs more than the rest of the injection, and
    the marker is nearly always close to the end: search growing tails.
    """
    size = len(body)
    window = 1024 + len(lowered)
    while True:
        start = max(0, size - window)
        position = body[start:].lower().rfind(lowered)
        if position >= 0:
            # The last occurrence starting in the tail is the last of all.
            return start + position
        if start == 0:
            return -1
        window *= 4
