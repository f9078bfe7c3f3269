"""The request's host and URL: one parser for ``Host`` values and origins.

Used by :class:`~wsgikit.hosts.TrustedHosts` (is this host ours?),
:class:`~wsgikit.security.SecurityHeaders` (where to redirect to https) and
:class:`~wsgikit.cors.CORS` (the host part of an ``Origin``). The grammar is
RFC 3986's ``host [":" port]`` narrowed to what a browser or HTTP client sends:
a DNS name (letters, digits, ``-``, ``_``; labels of 1--63 characters), an IPv4
address or a bracketed IPv6 address; anything else is refused, never guessed.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote
from wsgiref.types import WSGIEnvironment

#: The longest ``Host`` value looked at; a DNS name has at most 253 characters.
MAX_HOST = 300

# Labels of 1-63 characters, no hyphen at either end. The underscore is not
# valid in a host name (RFC 952) but common in internal service names.
_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?")
_PORT = re.compile(r"[0-9]{1,5}")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# RFC 3986 pchar plus "/"; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=~"
# A query string is kept as sent: only characters that are not allowed in a
# URI at all (spaces, controls, non-ASCII) are percent-encoded.
_QUERY_SAFE = "/?:@!$&'()*+,;=~%[]"


def parse_host(value: str, *, keep_dot: bool = False) -> tuple[str, int | None] | None:
    """Split a ``Host`` value into a lower-case host and a port (``None`` when
    absent or empty); ``None`` when it is not a valid host. Never raises.

    An IPv6 address comes back in brackets, compressed (``[::1]``). One trailing
    dot of a DNS name is dropped unless ``keep_dot`` (origins keep it: for a
    browser ``example.com.`` is another origin).
    """
    if not value or len(value) > MAX_HOST or not value.isascii():
        return None
    if value[0] == "[":
        end = value.find("]")
        if end < 0:
            return None
        literal = value[1:end]
        if "%" in literal:  # zone IDs never travel in a Host header
            return None
        try:
            host = f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            return None
        rest = value[end + 1 :]
        if rest and rest[0] != ":":
            return None
        port_text = rest[1:]
        colon = bool(rest)
    else:
        host, colon_text, port_text = value.partition(":")
        colon = bool(colon_text)
        host = host.lower()
        if not _NAME.fullmatch(host) or len(host) > 254:
            return None
        if host.endswith(".") and not keep_dot:
            host = host[:-1]
    if not colon or not port_text:
        return host, None
    if not _PORT.fullmatch(port_text):
        return None
    port = int(port_text)
    if port > 65535:
        return None
    return host, port


def ascii_host(name: str) -> str:
    """A configured host name in its ASCII (IDNA, ``xn--``) form.

    :raises ValueError: when an internationalised name cannot be encoded.
    """
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"{name!r} is not a valid internationalised host name ({error})") from None


def default_port(scheme: str) -> int | None:
    """The port a URL with ``scheme`` has when it names none."""
    return _DEFAULT_PORTS.get(scheme)


def request_host(environ: WSGIEnvironment) -> str:
    """The host the request was sent to: ``Host`` (``HTTP_HOST``, as ProxyFix
    left it), else ``SERVER_NAME`` with ``SERVER_PORT`` unless it is the
    scheme's default (PEP 3333's URL reconstruction)."""
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    name = str(environ.get("SERVER_NAME", ""))
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    port = str(environ.get("SERVER_PORT", ""))
    if port and port != str(default_port(str(environ.get("wsgi.url_scheme", "http")))):
        return f"{name}:{port}"
    return name


def request_url(environ: WSGIEnvironment, scheme: str, netloc: str) -> str:
    """The request's URL with another ``scheme`` and ``netloc``: path
    (``SCRIPT_NAME`` + ``PATH_INFO``, percent-encoded from their latin-1 bytes)
    and query string kept."""
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    if not path.startswith("/"):
        # PEP 3333 paths start with "/"; a server breaking that must not be
        # able to extend the host ("example.com" + "0").
        path = "/" + path
    url = f"{scheme}://{netloc}{quote(_wsgi_bytes(path), safe=_PATH_SAFE)}"
    query = environ.get("QUERY_STRING")
    if query:
        url += "?" + quote(_wsgi_bytes(str(query)), safe=_QUERY_SAFE)
    return url


def _wsgi_bytes(text: str) -> bytes:
    """The bytes behind a PEP 3333 environ string (latin-1); a server that put
    other characters there gets their UTF-8 bytes instead of an error."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
