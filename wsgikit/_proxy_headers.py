"""The header rewriting of :class:`wsgikit.http_proxy.HTTPProxy`: the request
headers it sends built from the environ, hop-by-hop headers filtered out both
ways (RFC 9110 §7.6.1), and the ``Location``, ``Content-Location`` and
``Set-Cookie`` values of the upstream rewritten to the client's URL space.
Plain functions of strings and the environ, no I/O."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from wsgiref.types import WSGIEnvironment

from ._host import request_host

#: Hop-by-hop headers: RFC 9110 §7.6.1 (Connection, Proxy-Connection,
#: Keep-Alive, TE, Transfer-Encoding, Upgrade), RFC 9110 §6.6.2 (Trailer) and
#: the proxy authentication pair, which concerns this hop only (RFC 9110 §11.7).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# Request headers the proxy sets itself: Host (the upstream's), Content-Length
# (from CONTENT_LENGTH), and no Expect: the front server already answered the
# client's "100-continue", and the upstream would wait for a body sent anyway.
SET_BY_PROXY = ("host", "expect", "content-length")
DEFAULT_PORTS = {"http": 80, "https": 443}


def end_to_end(
    pairs: Iterable[tuple[str, str]], also_drop: Iterable[str] = ()
) -> Iterator[tuple[str, str]]:
    """The ``(name, value)`` pairs that are not hop-by-hop: not in
    :data:`HOP_BY_HOP`, not named in a ``Connection`` header, not in ``also_drop``."""
    pairs = list(pairs)
    dropped = set(HOP_BY_HOP).union(name.lower() for name in also_drop)
    for name, value in pairs:
        if name.lower() in ("connection", "proxy-connection"):
            dropped.update(token.strip().lower() for token in value.split(","))
    for name, value in pairs:
        if name.lower() not in dropped:
            yield name, value


def request_headers(environ: WSGIEnvironment, host: str) -> dict[str, str]:
    """The headers to send upstream: ``Host: host``, the client's end-to-end
    ``HTTP_*`` headers and ``Content-Type``, minus :data:`SET_BY_PROXY`."""
    from urllib3.util import SKIP_HEADER

    pairs = [
        (key[5:].replace("_", "-").title(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
    ]
    if environ.get("CONTENT_TYPE"):
        pairs.append(("Content-Type", environ["CONTENT_TYPE"]))
    headers = {"Host": host}
    headers.update(end_to_end(pairs, also_drop=SET_BY_PROXY))
    # urllib3 would add its own User-Agent and "Accept-Encoding: identity":
    # the upstream must see only what the client sent.
    for name in ("User-Agent", "Accept-Encoding"):
        headers.setdefault(name, SKIP_HEADER)
    return headers


def response_headers(
    status: int,
    pairs: Iterable[tuple[str, str]],
    environ: WSGIEnvironment,
    *,
    location: Callable[[str, WSGIEnvironment], str] | None,
    cookie: Callable[[str, WSGIEnvironment], str] | None,
) -> list[tuple[str, str]]:
    """The upstream's response headers as the client gets them: end-to-end
    only, unfolded, ``Location``/``Content-Location`` passed through
    ``location`` and ``Set-Cookie`` through ``cookie`` (``None``: kept)."""
    # No content, so no content type: PEP 3333 checkers (wsgiref.validate)
    # refuse the one some upstreams send with a 204 or 304.
    drop = ("content-type",) if status in (204, 304) else ()
    headers = []
    for name, value in end_to_end(pairs, also_drop=drop):
        lower = name.lower()
        # An obsolete folded header line keeps its line break in
        # http.client; PEP 3333 values must not contain one.
        value = " ".join(value.split()) if "\r" in value or "\n" in value else value
        if location is not None and lower in ("location", "content-location"):
            value = location(value, environ)
        elif cookie is not None and lower == "set-cookie":
            value = cookie(value, environ)
        headers.append((name, value))
    return headers


def client_url(
    value: str,
    environ: WSGIEnvironment,
    upstream: tuple[str, int],
    prefix: str,
    preserve_host: bool,
) -> str:
    """``value`` (a URL the upstream sent) as the client should see it:
    ``upstream`` is the upstream's (hostname, port), ``prefix`` its path
    prefix; a URL elsewhere is left as it is."""
    try:
        url = urllib.parse.urlsplit(value)
        port = url.port
    except ValueError:
        return value
    if url.scheme or url.netloc:
        if url.scheme.lower() not in DEFAULT_PORTS or not url.hostname:
            return value
        origin = (url.hostname.lower(), port or DEFAULT_PORTS[url.scheme.lower()])
        if origin != (upstream[0].lower(), upstream[1]) and not (
            preserve_host and url.netloc.lower() == environ.get("HTTP_HOST", "").lower()
        ):
            return value
    elif not url.path.startswith("/") or url.path.startswith("//"):
        return value  # relative to the request's URL, which mirrors the upstream's
    rest = under(url.path, prefix)
    if rest is None:
        return value
    path = str(environ.get("SCRIPT_NAME", "")) + rest or "/"
    if not (url.scheme or url.netloc):
        return urllib.parse.urlunsplit(("", "", path, url.query, url.fragment))
    scheme = str(environ["wsgi.url_scheme"])
    return urllib.parse.urlunsplit((scheme, request_host(environ), path, url.query, url.fragment))


def client_cookie(value: str, environ: WSGIEnvironment, hostname: str, prefix: str) -> str:
    """A ``Set-Cookie`` value with the upstream's domain and prefix taken out."""
    cookie, *attributes = value.split(";")
    kept = [cookie]
    for attribute in attributes:
        name, _, argument = attribute.partition("=")
        name = name.strip().lower()
        argument = argument.strip()
        if name == "domain" and argument.lstrip(".").lower() == hostname.lower():
            continue
        if name == "path" and prefix:
            rest = under(argument, prefix)
            if rest is not None:
                attribute = " Path=" + (environ.get("SCRIPT_NAME", "") + rest or "/")
        kept.append(attribute)
    return ";".join(kept)


def under(path: str, prefix: str) -> str | None:
    """What follows ``prefix`` in ``path`` (on a segment boundary), else None."""
    if not prefix:
        return path
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None
