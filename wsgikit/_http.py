"""Small HTTP jobs the middlewares share, each with one home, so that the
middlewares applying a rule cannot drift apart. The interception state machine
itself is :mod:`wsgikit._response`; everything here is a plain function of a
status line, a header list or an option value.

- Status and header helpers: :func:`status_code`, :func:`body_forbidden`,
  :func:`get_header`, :func:`without_headers`, :func:`with_vary`,
  :func:`media_type`; :func:`requote_etag` for a changed body's ``ETag``;
  :data:`STALE_AFTER_TRANSFORM`, the headers a transformed body invalidates,
  and :func:`transformed_headers`, which drops them and re-quotes the ``ETag``.
- :func:`transformable` says whether a response body may be transformed
  (compressed, rewritten).
- :func:`media_patterns` checks a ``content_types``-like option, the same way
  for every middleware, and :class:`MediaMatcher` matches ``Content-Type``
  values against the patterns; :func:`select_by_type` makes the *decide*
  function that looks at a response's ``Content-Type`` first.
- :func:`log_escape` makes client text (a path, a header value, a user name)
  safe to quote in a log line; :func:`log_safe` is the same, cut to a length.
- :data:`REQUEST_ID`: what a request ID taken from a client may look like (a
  request ID that :class:`~wsgikit.RequestID` accepts is exactly one
  :class:`~wsgikit.JSONErrors` would echo).
- :data:`TOKEN`: the RFC 9110 token grammar (header names, methods, cookie
  names).
- :class:`HTTPStatusError`: wsgikit's own errors that carry an HTTP status.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar
from wsgiref.types import WSGIEnvironment

from werkzeug.http import parse_cache_control_header, quote_etag, unquote_etag

from ._types import Headers

# --- status and header helpers ----------------------------------------------


def status_code(status: str) -> int:
    """Return the numeric code of a WSGI status line such as ``"404 Not Found"``."""
    try:
        return int(status[:3])
    except ValueError:
        return 0


def body_forbidden(code: int) -> bool:
    """True for statuses that never carry a body (1xx, 204, 304)."""
    return code < 200 or code == 204 or code == 304


def get_header(headers: Headers, name: str) -> str | None:
    """Return the first value of header ``name`` (case-insensitive), or ``None``."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def without_headers(headers: Headers, *names: str) -> Headers:
    """Return a new list without any of the headers ``names`` (case-insensitive)."""
    drop = {name.lower() for name in names}
    return [(key, value) for key, value in headers if key.lower() not in drop]


def with_vary(headers: Headers, field: str) -> Headers:
    """Return ``headers`` with ``field`` named in ``Vary``.

    Several ``Vary`` headers are merged into the first one. When ``Vary``
    already names ``field`` (case-insensitive) or is ``*``, ``headers``
    itself is returned, so ``with_vary(h, f) is h`` tells that nothing changed;
    otherwise a new list (the input is never modified).
    """
    # It runs on most responses, twice in a typical stack (SessionMiddleware's
    # Cookie, Compress's Accept-Encoding), and nearly always meets none or one
    # Vary header: find them in one pass, lower-casing only 4-letter names.
    first = -1
    for index, (key, _) in enumerate(headers):
        if len(key) == 4 and key.lower() == "vary":
            if first >= 0:
                return _merge_vary(headers, field)  # several: the general path
            first = index
    if first < 0:
        return [*headers, ("Vary", field)]
    key, value = headers[first]
    tokens = _vary_tokens(value, field.lower())
    if tokens is None:
        return headers
    result = list(headers)
    result[first] = (key, ", ".join([*tokens, field]))
    return result


def _vary_tokens(value: str, lowered: str) -> list[str] | None:
    """The non-empty field names of one ``Vary`` value, or ``None`` when it is
    ``*`` or names ``lowered`` (a lower-case field name)."""
    tokens: list[str] = []
    # Vary is a list of field names (tokens, never quoted), so a plain split
    # is exact, and twice as fast as werkzeug's parse_list_header.
    for token in value.split(","):
        token = token.strip()
        if token == "*" or token.lower() == lowered:
            return None
        if token:
            tokens.append(token)
    return tokens


def _merge_vary(headers: Headers, field: str) -> Headers:
    """:func:`with_vary` for several ``Vary`` headers: merged into the first."""
    lowered = field.lower()
    tokens: list[str] = []
    first = -1
    for index, (key, value) in enumerate(headers):
        if key.lower() == "vary":
            if first < 0:
                first = index
            found = _vary_tokens(value, lowered)
            if found is None:
                return headers
            tokens += found
    merged = ", ".join([*tokens, field])
    return [
        (key, merged) if index == first else (key, value)
        for index, (key, value) in enumerate(headers)
        if index == first or key.lower() != "vary"
    ]


def requote_etag(value: str, *, suffix: str = "", weak: bool = False) -> str | None:
    """The ``ETag`` header ``value`` with ``suffix`` added inside the quotes,
    made weak when ``weak`` (a weak tag stays weak); ``None`` when it cannot be
    quoted again (empty, or a quote inside)."""
    value = value.strip()
    if not value:  # werkzeug's unquote_etag gives (None, None) for it
        return None
    tag, was_weak = unquote_etag(value)
    try:
        return quote_etag(tag + suffix, weak or was_weak)
    except ValueError:
        return None


def media_type(headers: Headers) -> str:
    """Return the lower-case media type of ``Content-Type``, parameters removed."""
    value = get_header(headers, "content-type")
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


#: Headers that describe the exact bytes of the original body, wrong once the
#: body is compressed or rewritten (``Content-Length`` is the core's to set).
STALE_AFTER_TRANSFORM = frozenset(
    {"content-md5", "accept-ranges", "content-digest", "repr-digest", "digest"}
)


def transformed_headers(
    headers: Headers,
    stale: frozenset[str],
    logger: logging.Logger,
    suffix: str = "",
    weak: bool = False,
) -> Headers:
    """A copy of ``headers`` for a transformed (compressed, rewritten) body:
    the ``stale`` headers (lower-case names) dropped, the ``ETag`` given
    ``suffix`` and made weak when ``weak``, as :func:`requote_etag` does. An
    ``ETag`` that cannot be quoted again is dropped, with a debug line to
    ``logger``."""
    out: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower in stale:
            continue
        if lower == "etag":
            tag = requote_etag(value, suffix=suffix, weak=weak)
            if tag is None:
                logger.debug("dropping an ETag that cannot be re-quoted: %s", log_safe(value))
                continue
            value = tag
        out.append((name, value))
    return out


# --- media type patterns (content_types, flush_types) ------------------------

# A name in a media type (RFC 6838 section 4.2 characters, lower case).
_NAME = r"[a-z0-9!#$&^_.+-]+"
_MEDIA_PATTERN = re.compile(rf"\*/\*|{_NAME}/(?:\*|{_NAME})|\+{_NAME}")
_PATTERN_FORMS = "type/subtype, type/*, */* or +suffix"


def media_patterns(option: str, values: object, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Check the value of a media type option (``content_types``,
    ``flush_types``) and return its patterns, stripped and lower-case.

    The one contract of every such option: a list (any iterable) of patterns,
    or one string holding them separated by commas or whitespace (as in an INI
    file). A pattern is ``type/subtype``, ``type/*`` (every subtype),
    ``*/*`` (every media type) or ``+suffix`` (a structured syntax suffix:
    ``+json`` matches ``application/ld+json``); no parameters.

    :raises TypeError: When ``values`` is not a str or an iterable of str.
    :raises ValueError: For a string that is not a pattern, or no pattern
        at all (unless ``allow_empty``).
    """
    if isinstance(values, str):
        items: list[object] = [item for item in re.split(r"[\s,]+", values) if item]
    elif isinstance(values, bytes | bytearray) or not isinstance(values, Iterable):
        raise TypeError(
            f"{option}: must be media type patterns (a list of str, or one str), "
            f"not {type(values).__name__}"
        )
    else:
        items = list(values)
    patterns: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{option}: {item!r} is not a str")
        pattern = item.strip().lower()
        if not _MEDIA_PATTERN.fullmatch(pattern):
            raise ValueError(
                f"{option}: {item!r} is not a media type pattern (use {_PATTERN_FORMS})"
            )
        patterns.append(pattern)
    if not patterns and not allow_empty:
        raise ValueError(f"{option}: give at least one media type pattern ({_PATTERN_FORMS})")
    return tuple(patterns)


class MediaMatcher:
    """Match ``Content-Type`` values against patterns checked by
    :func:`media_patterns`."""

    __slots__ = ("_exact", "_wild", "_suffixes", "_any")

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = tuple(patterns)
        self._exact = frozenset(p for p in patterns if "/" in p and not p.endswith("/*"))
        self._wild = frozenset(p[:-2] for p in patterns if p.endswith("/*") and p != "*/*")
        self._suffixes = frozenset(p[1:] for p in patterns if p.startswith("+"))
        self._any = "*/*" in patterns

    def __call__(self, content_type: str) -> bool:
        """Whether ``content_type`` (any case, parameters ignored) matches.

        A value without a ``/`` matches nothing, not even ``*/*``. Callers on
        a hot path cache the answer per value: applications send few.
        """
        media = content_type.partition(";")[0].strip().lower()
        if media in self._exact:
            return True
        main, slash, sub = media.partition("/")
        if not slash:
            return False
        if self._any or main in self._wild:
            return True
        _, plus, tail = sub.rpartition("+")
        return bool(plus) and tail in self._suffixes


K = TypeVar("K")
R = TypeVar("R")

# Classifications cached per Content-Type value by select_by_type (an
# application sends a handful of values); longer values are not cached.
_TYPE_CACHE_SIZE = 256
_TYPE_CACHE_KEY_MAX = 200


def select_by_type(
    kind_of: Callable[[str], K],
    then: Callable[[WSGIEnvironment, str, Headers, K], R],
    cache: dict[str, K] | None = None,
) -> Callable[[WSGIEnvironment, str, Headers], R | None]:
    """Return a *decide* function (``decide(environ, status, headers)``) that
    looks at the response's media type first, since that sends most responses
    through untouched.

    ``kind_of(value)`` classifies the first ``Content-Type`` value, once per
    distinct value (the answers are kept in ``cache``: give several decide
    functions one dict to share them); it must not return ``None``. A
    response without ``Content-Type``, or whose kind is false, gets ``None``
    (pass through) at the cost of one scan of the headers and a dict lookup;
    any other gets ``then(environ, status, headers, kind)``.
    """
    known = {} if cache is None else cache
    lookup = known.get

    def decide(environ: WSGIEnvironment, status: str, headers: Headers) -> R | None:
        content_type = None
        for name, value in headers:
            # The usual spelling first: it spares a lower() per response.
            if name == "Content-Type" or name.lower() == "content-type":
                content_type = value
                break
        if content_type is None:
            return None
        kind = lookup(content_type)
        if kind is None:
            kind = kind_of(content_type)
            if len(content_type) <= _TYPE_CACHE_KEY_MAX:
                if len(known) >= _TYPE_CACHE_SIZE:
                    known.clear()
                known[content_type] = kind
        if not kind:
            return None
        return then(environ, status, headers, kind)

    return decide


#: An RFC 9110 token (section 5.6.2): a header name, a method, an auth scheme,
#: a cookie name. The one copy of this grammar in wsgikit.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# --- log lines and request IDs ------------------------------------------------

#: A request ID taken from a client is trusted only when it matches this:
#: bounded, and no markup, quotes, spaces or control characters, so it is safe
#: in a header, a JSON body and a log line as it is.
REQUEST_ID = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")

# Apache's escaping of logged request data (``ap_escape_logitem``): a quote, a
# backslash, a control character or a byte outside printable ASCII becomes a
# backslash escape, so a value can neither end its field nor start a new line.
_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0D: "\\r"}
_QUOTED_TABLE = tuple(
    _ESCAPES.get(byte)
    or ("\\" + chr(byte) if byte in (0x22, 0x5C) else None)
    or (chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}")
    for byte in range(256)
)
# Outside quotes a space would split the field too.
_BARE_TABLE = tuple("\\x20" if byte == 0x20 else _QUOTED_TABLE[byte] for byte in range(256))
_QUOTED_SAFE = re.compile(r"[ !#-\[\]-~]*")
_BARE_SAFE = re.compile(r"[!#-\[\]-~]*")


def log_escape(value: str, *, quoted: bool = True) -> str:
    """Escape client text for one field of a log line, as Apache does.

    ``"`` and ``\\`` get a backslash; ``\\b \\t \\n \\v \\r`` are written so;
    other control characters and every byte outside printable ASCII become
    ``\\xhh``. A WSGI string (latin-1, one character per byte) is escaped byte
    by byte; any other text is escaped as its UTF-8 bytes. With
    ``quoted=False`` (a field outside quotes, such as the user name) a space
    becomes ``\\x20`` too. The result is printable ASCII and can be read back
    unambiguously, so a client cannot forge or split a line.
    """
    if (_QUOTED_SAFE if quoted else _BARE_SAFE).fullmatch(value):
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")
    table = _QUOTED_TABLE if quoted else _BARE_TABLE
    return "".join([table[byte] for byte in raw])


class HTTPStatusError(Exception):
    """An error of wsgikit's own that has an HTTP status for the client.

    Subclasses set ``code`` (a 4xx or 5xx status) and ``description`` (text
    safe to show). :class:`~wsgikit.JSONErrors` believes the status of these, as
    it does for the frameworks' own HTTP exceptions, and of no other exception
    unless told to.
    """

    code = 500
    description = "The server cannot answer this request."


#: The longest client text quoted in a log line, in characters.
LOG_CHARS = 200

# Statuses whose body is never transformed: none (204, 304) or a range of a
# representation (206), which cannot be transformed on its own.
_NOT_TRANSFORMED = frozenset({"204", "206", "304"})


def log_safe(value: object, limit: int = LOG_CHARS) -> str:
    """:func:`log_escape` for a value of any length or type: cut to ``limit``
    characters first (``...`` marks the cut), so a hostile header cannot fill
    the log either."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return log_escape(text)


def transformable(status: str, headers: Headers) -> tuple[str | None, bool] | None:
    """Whether the body of a response may be transformed (compressed, rewritten).

    Not when the status carries no body (1xx, 204, 304) or a range (206), when
    ``Content-Encoding`` names any coding but a lone ``identity`` (several
    headers count as one list: ``gzip, identity`` is still gzip), or when
    ``Cache-Control`` says ``no-transform`` (RFC 9110 section 7.7).

    Returns ``None`` when it may not; otherwise what every caller needs next,
    from the same scan of the headers (this runs on every response of a
    selected media type): the ``Content-Length`` value (``None`` when absent)
    and whether a ``Vary`` header is present.
    """
    code = status[:3]
    if code < "200" or code >= "600" or code in _NOT_TRANSFORMED:
        return None
    encoding: str | None = None
    cache_control: str | None = None
    length: str | None = None
    vary = False
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            length = value
        elif lower == "vary":
            vary = True
        elif lower == "content-encoding":
            encoding = value if encoding is None else f"{encoding},{value}"
        elif lower == "cache-control":
            cache_control = value if cache_control is None else f"{cache_control},{value}"
    if encoding is not None and _coded(encoding):
        return None
    if cache_control is not None and _no_transform(cache_control):
        return None
    return length, vary


@lru_cache(maxsize=64)
def _coded(content_encoding: str) -> bool:
    # Cached: an application sends a handful of distinct values. Empty list
    # members are allowed by the list syntax (RFC 9110 section 5.6.1).
    codings = [token for token in map(str.strip, content_encoding.lower().split(",")) if token]
    return bool(codings) and codings != ["identity"]


@lru_cache(maxsize=256)
def _no_transform(cache_control: str) -> bool:
    # Cached: werkzeug's parser costs microseconds and an application sends a
    # handful of distinct values. Directive names are case-insensitive
    # (RFC 9111 section 5.2); werkzeug's parser is not, so lower-case first.
    return bool(parse_cache_control_header(cache_control.lower()).no_transform)
