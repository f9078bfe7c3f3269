"""Small HTTP jobs the middlewares share, each with one home, so that the
middlewares applying a rule cannot drift apart.

- :func:`log_escape` makes client text (a path, a header value, a user name)
  safe to quote in a log line; :func:`log_safe` is the same, cut to a length.
- :data:`REQUEST_ID`: what a request ID taken from a client may look like (a
  request ID that :class:`~wsgikit.RequestID` accepts is exactly one
  :class:`~wsgikit.JSONErrors` would echo).
- :func:`transformable` says whether a response body may be transformed
  (compressed, rewritten).
- :class:`HTTPStatusError`: wsgikit's own errors that carry an HTTP status.
"""

from __future__ import annotations

import re
from functools import lru_cache

from werkzeug.http import parse_cache_control_header

from ._response import Headers

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
