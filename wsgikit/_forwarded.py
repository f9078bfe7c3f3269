"""The forwarded-header grammar: what :class:`~wsgikit.ProxyFix` reads and
:class:`~wsgikit.FakeForwardedFor` writes.

``X-Forwarded-*`` list splitting (werkzeug's items, without its per-character
walk), RFC 7239 ``Forwarded`` elements (parsing and serialising), the checks
of a client node, host, scheme and path prefix, and the bounded caches behind
them. Nothing here touches an environ beyond reading one header; logging goes
to ``wsgikit.proxy`` (the middleware's logger).

Limits: a header value over :data:`MAX_HEADER` characters (all its lines
joined) is refused as a whole; a ``Forwarded`` element over
:data:`MAX_ELEMENT`, a node over :data:`MAX_NODE` and a host over
:data:`MAX_HOST` characters are invalid. Real chains are far below: an
``X-Forwarded-For`` entry takes at most ~50 characters (8 KiB is over 150
hops), a full ``Forwarded`` element under 400; servers refuse header lines over
about 8 KiB anyway. The limits bound the work per request and, as no longer
value reaches a cached function, the memory of the caches: ``client_address``
4096 x 64 characters, ``valid_host`` 1024 x 259, each trusted-mode ProxyFix's
verdicts 4096 x 64: 2.2 MiB with all three full of the longest keys (measured
with tracemalloc, entries included).

Not :func:`wsgikit._host.parse_host`: that parser normalises a ``Host`` for
comparison (lower-cases, compresses IPv6, drops a trailing dot, takes an empty
port and port 0, refuses labels over 63 characters or with a hyphen at either
end). :func:`valid_host` decides whether a forwarded host may be written as the
proxy sent it (case and spelling kept, port 1-65535 without leading zeros), as
werkzeug writes it. The two accept different sets in both directions, so one
cannot stand for the other without changing what ProxyFix believes.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from wsgiref.types import WSGIEnvironment

from werkzeug.http import parse_dict_header, quote_header_value, unquote_header_value

from ._http import log_safe
from ._options import LIST_FORMS, check_strings

logger = logging.getLogger("wsgikit.proxy")

FORWARDED = "HTTP_FORWARDED"
X_FOR = "HTTP_X_FORWARDED_FOR"
X_PROTO = "HTTP_X_FORWARDED_PROTO"
X_HOST = "HTTP_X_FORWARDED_HOST"
X_PORT = "HTTP_X_FORWARDED_PORT"
X_PREFIX = "HTTP_X_FORWARDED_PREFIX"
ALL_HEADERS = (FORWARDED, X_FOR, X_PROTO, X_HOST, X_PORT, X_PREFIX)
NAMES = {
    FORWARDED: "Forwarded",
    X_FOR: "X-Forwarded-For",
    X_PROTO: "X-Forwarded-Proto",
    X_HOST: "X-Forwarded-Host",
    X_PORT: "X-Forwarded-Port",
    X_PREFIX: "X-Forwarded-Prefix",
}

#: Believed schemes. PEP 3333 knows only http and https, so WebSocket schemes
#: are mapped to the scheme of their transport.
SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

MAX_HEADER = 8192
MAX_ELEMENT = 1024
MAX_NODE = 64  # "[" + 45-character IPv6 + "]:" + port fits easily
MAX_HOST = 259  # 253-character name + ":" + 5-digit port
LOG_CHARS = 100
#: The verdict on a node that is not a valid address.
INVALID: tuple[str | None, bool] = (None, False)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A host is a bracketed IPv6 literal or a DNS-ish name (letters, digits, "-",
# "_", "."), with an optional port. No "/", "@", "?", "#", CR/LF or spaces,
# so a forged value cannot smuggle a path, credentials or a header.
_HOST_RE = re.compile(r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_][A-Za-z0-9_.-]{0,252})(?::(\d{1,5}))?")
# A clean absolute path: "/"-separated non-empty segments of RFC 3986 pchars
# without "%" (SCRIPT_NAME is decoded), one optional trailing "/".
_PREFIX_RE = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+/?")
_DOT_SEGMENT_RE = re.compile(r"/\.\.?(?:/|$)")
# RFC 7239 section 6.3 obfuscated node name or port.
_OBFUSCATED_RE = re.compile(r"_[A-Za-z0-9._-]+")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")

# The items of a list header as werkzeug's parse_list_header finds them (a
# run of anything but "," and '"' or a quoted string with backslash escapes;
# blanks around an item are not part of it), in one pass of C code, with no
# backtracking. _BALANCED_RE first checks that every quoted string is closed
# (parse_list_header gives nothing otherwise). Why not parse_list_header: it
# walks the value one character at a time in Python and unquotes every item.
# Measured with timeit (werkzeug 3.1.9, CPython 3.11): a quoted two-element
# Forwarded header 1.2 us against 3.8 us, five elements 5.6 us against 18 us,
# an 8 KiB quoted X-Forwarded-For 98 us against 467 us. Hypothesis tests
# check that both give the same items (tests/test_forwarded.py).
_QUOTED = r'"(?:[^"\\]++|\\.)*+"'
_BALANCED_RE = re.compile(rf'(?:[^"]++|{_QUOTED})*+', re.DOTALL)
_ITEM_RE = re.compile(
    rf'(?:[^ \t,"]++|{_QUOTED})(?:[^ \t,"]++|{_QUOTED}|[ \t]++(?=[^ \t,]))*+', re.DOTALL
)


# --- addresses and networks -----------------------------------------------------


def parse_networks(trusted: object) -> tuple[Network, ...]:
    """``trusted=`` as networks; a single address becomes a /32 or /128, and
    an IPv4-mapped network (inside ``::ffff:0:0/96``) the IPv4 one. The list
    forms are :func:`wsgikit._options.check_strings`', plus
    :mod:`ipaddress` address and network objects as items."""
    accepted = "addresses or networks (" + LIST_FORMS + ", or ipaddress objects)"
    items: tuple[object, ...]
    if isinstance(trusted, str):
        items = check_strings("trusted", trusted)
    elif isinstance(trusted, bytes | bytearray) or not isinstance(trusted, Iterable):
        raise TypeError(f"trusted: must be {accepted}, not {trusted!r:.80}")
    else:
        items = tuple(trusted)
    networks: list[Network] = []
    for item in items:
        network: Network
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            network = item
        elif isinstance(item, ipaddress.IPv4Address | ipaddress.IPv6Address):
            network = ipaddress.ip_network(item)
        elif not isinstance(item, str):
            raise TypeError(f"trusted: must be {accepted}, not a list holding {item!r:.80}")
        elif not item.strip():
            continue
        else:
            try:
                if "%" in item:
                    raise ValueError("scope ids are not supported")
                network = ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as error:
                raise ValueError(
                    f"trusted: must be {accepted}, not {item!r:.80} ({error})"
                ) from None
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            mapped = network.network_address.ipv4_mapped
            if mapped is not None:  # always, inside ::ffff:0:0/96
                network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        networks.append(network)
    if not networks:
        raise ValueError(
            "trusted: must name at least one address or network"
            " (leave it out, or None, to count hops instead)"
        )
    return tuple(networks)


@functools.lru_cache(maxsize=4096)
def client_address(text: str) -> str | None:
    """The IP address of an ``ip``, ``ip:port``, ``[v6]`` or ``[v6]:port``
    node, as written (without port or brackets); ``None`` if not valid.
    Callers pass no text over ``MAX_NODE`` characters (the cache's keys)."""
    if "%" in text:
        return None
    host, port = text, ""
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and port[0] != ":"):
            return None
        port = port[1:] if port else ""
        version = 6
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        version = 4
    else:
        version = 6 if ":" in text else 4
    if port and not _valid_node_port(port):
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return host if ip.version == version else None


def _valid_node_port(port: str) -> bool:
    if port.isascii() and port.isdigit():
        return len(port) <= 5 and 0 < int(port) < 65536
    return _OBFUSCATED_RE.fullmatch(port) is not None


def node_is_valid(node: str) -> bool:
    """An RFC 7239 node of at most ``MAX_NODE`` characters: an address (with
    optional port), ``unknown`` or an obfuscated identifier (with optional port)."""
    if len(node) > MAX_NODE:
        return False
    if client_address(node) is not None:
        return True
    name, _, port = node.partition(":")
    if port and not _valid_node_port(port):
        return False
    return name == "unknown" or _OBFUSCATED_RE.fullmatch(name) is not None


def trust_verdict(networks: tuple[Network, ...], node: str) -> tuple[str | None, bool]:
    """(the node's address or None if invalid, whether it is trusted)."""
    address = client_address(node)
    if address is None:
        return INVALID
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
        ip = ip.ipv4_mapped
    return address, any(ip in network for network in networks)


# --- single values --------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def valid_host(value: str) -> tuple[str, str | None] | None:
    """(name, port without leading zeros or None) of a clean ``Host`` value,
    else ``None``. Callers pass no value over ``MAX_HOST`` characters."""
    match = _HOST_RE.fullmatch(value)
    if match is None:
        return None
    name, port = match.groups()
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
    if port is None:
        return name, None
    number = int(port)
    return (name, str(number)) if 0 < number < 65536 else None


def valid_port(value: str) -> bool:
    """1 to 5 ASCII digits naming a port from 1 to 65535."""
    return value.isascii() and value.isdigit() and len(value) <= 5 and 0 < int(value) < 65536


def valid_prefix(value: str) -> bool:
    return _PREFIX_RE.fullmatch(value) is not None and _DOT_SEGMENT_RE.search(value) is None


# --- list headers ---------------------------------------------------------------


def split_items(value: str) -> list[str]:
    """The items of a list header, as werkzeug's ``parse_list_header`` gives
    them (blanks stripped, empty ones dropped, nothing if a quoted string is
    not closed) but still quoted (see :func:`unquote`): only the items used
    are unquoted or parsed further."""
    if '"' not in value:
        # The usual case, no quoted strings: str.split. Measured 0.36 us for
        # one address and 0.75 us for five, against 1.6 and 4.6 us.
        found = [item.strip(" \t") for item in value.split(",")]
        return [item for item in found if item] if "" in found else found
    if _BALANCED_RE.fullmatch(value) is None:
        return []
    return _ITEM_RE.findall(value)


def list_header(environ: WSGIEnvironment, key: str, level: int) -> tuple[str | None, list[str]]:
    """A forwarded list header's value (``None`` if absent or too long) and
    its items (see :func:`split_items`); a value with none (an unclosed quoted
    string, only commas) is logged."""
    header: str | None = environ.get(key)
    if not header:
        return header, []
    if len(header) > MAX_HEADER:
        logger.log(
            level,
            "ignoring %s header of %d characters (the limit is %d)",
            NAMES[key],
            len(header),
            MAX_HEADER,
        )
        return None, []
    found = split_items(header)
    if not found:
        reject(NAMES[key], header, level)
    return header, found


def unquote(item: str) -> str:
    return unquote_header_value(item) if item[0] == '"' else item


def from_right(
    environ: WSGIEnvironment, key: str, hops: int, level: int, or_leftmost: bool = False
) -> str | None:
    """The ``hops``-th value from the right of a list header, as werkzeug's
    ``_get_real_value`` picks it. With fewer values: ``None`` or, with
    ``or_leftmost`` (trusted mode), the leftmost value. ``None`` also when the
    header is absent, empty or too long."""
    value: str | None = environ.get(key)
    if value and len(value) <= MAX_HEADER:
        if "," not in value and '"' not in value:
            # The usual case, one plain value: no splitting.
            value = value.strip(" \t")
            return value if value and (hops == 1 or or_leftmost) else None
        if hops == 1:
            # Also without splitting: the text after the last comma, when that
            # comma is outside quoted strings (no quote before it, or an even
            # number of them and no backslash escapes).
            rest, _, last = value.rpartition(",")
            last = last.strip(" \t")
            if (
                last
                and '"' not in last
                and ('"' not in rest or ("\\" not in rest and rest.count('"') % 2 == 0))
            ):
                return last
    _, found = list_header(environ, key, level)  # logs a value too long or without items
    if len(found) >= hops:
        return unquote(found[-hops])
    return unquote(found[0]) if or_leftmost and found else None


# --- RFC 7239 elements ----------------------------------------------------------


def parse_element(item: str, level: int) -> dict[str, str | None] | None:
    """One RFC 7239 element (``;``-separated pairs, quotes respected; names
    are case-insensitive), or ``None`` if it is over ``MAX_ELEMENT``."""
    if len(item) > MAX_ELEMENT:
        logger.log(level, "ignoring Forwarded element of %d characters", len(item))
        return None
    pairs = parse_dict_header(unquote(item).replace(";", ","))
    return {name.lower(): pair for name, pair in pairs.items()}


def format_element(parameters: Mapping[str, str | None]) -> str:
    """An RFC 7239 element: ``name=value`` pairs joined by ``;``, values quoted
    where they are not tokens (``for="[2001:db8::1]"``); ``None`` values left out."""
    return ";".join(
        f"{name}={quote_header_value(value)}"
        for name, value in parameters.items()
        if value is not None
    )


def reject(what: str, value: str, level: int) -> None:
    logger.log(level, 'ignoring invalid %s value "%s"', what, log_safe(value, LOG_CHARS))
