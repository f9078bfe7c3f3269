"""Small HTTP jobs the middlewares share, each with one home.

- :func:`log_safe` makes client text (a path, a header value, a user name)
  safe to quote in a log line.
- :func:`transformable` says whether a response body may be transformed
  (compressed, rewritten), so that the middlewares that transform bodies
  cannot disagree about it.
"""

from __future__ import annotations

from functools import lru_cache

from werkzeug.http import parse_cache_control_header

from ._response import Headers

#: The longest client text quoted in a log line, in characters.
LOG_CHARS = 200

# Statuses whose body is never transformed: none (204, 304) or a range of a
# representation (206), which cannot be transformed on its own.
_NOT_TRANSFORMED = frozenset({"204", "206", "304"})


def log_safe(value: object, limit: int = LOG_CHARS) -> str:
    """``value`` as text to quote in a log line: control characters, other
    non-printable characters and backslashes escaped as in ``repr()`` (so a
    ``%0A`` in a path cannot start a forged log line), and cut to ``limit``
    characters, ``...`` marking the cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable() and "\\" not in text:
        return text
    return repr(text)[1:-1]


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
