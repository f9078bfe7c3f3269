"""Proxies: believe ``X-Forwarded-*`` and RFC 7239 ``Forwarded`` headers safely,
or fake them in a test environment.

:class:`ProxyFix` is the production side. Behind a reverse proxy the WSGI
server sees the proxy as the client; the proxy says who the real client was,
which scheme and host it used and under which path prefix the app is mounted,
in request headers. ``ProxyFix`` copies what it is told to believe into the
environ (``REMOTE_ADDR``, ``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``,
``SERVER_PORT``, ``SCRIPT_NAME``). It takes werkzeug's ``ProxyFix`` arguments
with the same meaning, so moving from werkzeug is an import change, and adds a
trusted-network mode, RFC 7239 ``Forwarded`` and strict validation of every
value it writes.

:class:`FakeForwardedFor` is the test side: it makes an app believe it sits
behind a proxy chain by adding the headers such a chain would send.

When *not* to use them: only use ``ProxyFix`` when the app really sits behind
proxies you control and that set (or overwrite) the headers you enable. Every
forwarded header can be forged by a client, so believing one that no proxy of
yours sets lets anybody choose their own IP address, scheme or host. Never
deploy ``FakeForwardedFor`` in production.

Which header wins: with ``forwarded`` > 0 and a ``Forwarded`` header on the
request, the client address, scheme and host come only from ``Forwarded``;
``X-Forwarded-For``, ``-Proto`` and ``-Host`` are then ignored, not merged
(even when the ``Forwarded`` header itself is refused as invalid or too long).
``X-Forwarded-Port`` and ``X-Forwarded-Prefix`` (which ``Forwarded`` has no
parameter for) still apply as configured.

Limits: a forwarded header value over 8 KiB (all its lines joined) is refused
as a whole; a ``Forwarded`` element over 1 KiB, an address over 64 characters
and a host over 259 characters are invalid. Real chains are far below: an
``X-Forwarded-For`` entry takes at most ~50 characters (8 KiB is over 150
hops), a full ``Forwarded`` element (``for``, ``by``, ``proto`` and a
253-character host) under 400; and servers refuse header lines over about
8 KiB anyway (nginx, Apache, gunicorn). The limits bound the work per request
(only the elements needed are parsed) and the memory of the lookup caches.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import logging
import re
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.http import parse_dict_header, quote_header_value, unquote_header_value

from ._http import log_safe

logger = logging.getLogger("wsgikit.proxy")

#: Environ key of the dict of original values (keyed by the environ keys set).
ORIG_KEY = "wsgikit.proxy.orig"
#: Environ key of the RFC 7239 element that was believed (validated parameters only).
FORWARDED_KEY = "wsgikit.proxy.forwarded"
#: When none of a ProxyFix's first this many requests carries any of the
#: forwarded headers it reads, it logs one WARNING: most likely the WSGI
#: server deletes them (waitress does by default) or no proxy sends them.
QUIET_REQUESTS = 100

_FORWARDED = "HTTP_FORWARDED"
_X_FOR = "HTTP_X_FORWARDED_FOR"
_X_PROTO = "HTTP_X_FORWARDED_PROTO"
_X_HOST = "HTTP_X_FORWARDED_HOST"
_X_PORT = "HTTP_X_FORWARDED_PORT"
_X_PREFIX = "HTTP_X_FORWARDED_PREFIX"
_ALL_HEADERS = (_FORWARDED, _X_FOR, _X_PROTO, _X_HOST, _X_PORT, _X_PREFIX)
_NAMES = {
    _FORWARDED: "Forwarded",
    _X_FOR: "X-Forwarded-For",
    _X_PROTO: "X-Forwarded-Proto",
    _X_HOST: "X-Forwarded-Host",
    _X_PORT: "X-Forwarded-Port",
    _X_PREFIX: "X-Forwarded-Prefix",
}

#: Believed schemes. PEP 3333 knows only http and https, so WebSocket schemes
#: are mapped to the scheme of their transport.
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

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
# Size limits (see the module docstring). They bound the CPU spent on a
# request and, as no longer value reaches a cached function, the memory of
# the caches: _client_address 4096 x 64 characters, _valid_host 1024 x 259,
# each trusted-mode instance's verdicts 4096 x 64: 2.2 MiB with all three
# full of the longest keys (measured with tracemalloc, entries included).
_MAX_HEADER = 8192
_MAX_ELEMENT = 1024
_MAX_NODE = 64  # "[" + 45-character IPv6 + "]:" + port fits easily
_MAX_HOST = 259  # 253-character name + ":" + 5-digit port
_MAX_VERDICTS = 4096
_LOG_CHARS = 100
_INVALID: tuple[str | None, bool] = (None, False)
# A dict key no environ has (ProxyFix pads its pass-through test with it).
_NO_KEY = object()
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
# check that both give the same items (test_list_splitting_matches_werkzeug).
_QUOTED = r'"(?:[^"\\]++|\\.)*+"'
_BALANCED_RE = re.compile(rf'(?:[^"]++|{_QUOTED})*+', re.DOTALL)
_ITEM_RE = re.compile(
    rf'(?:[^ \t,"]++|{_QUOTED})(?:[^ \t,"]++|{_QUOTED}|[ \t]++(?=[^ \t,]))*+', re.DOTALL
)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyFix:
    """Set the client address, scheme, host, port and path prefix from the
    headers your reverse proxies add.

    - **Hop counts** (werkzeug's model, the default): ``x_for=N`` believes
      the N-th value from the right of ``X-Forwarded-For``, and likewise for
      ``x_proto``, ``x_host``, ``x_port``, ``x_prefix``. With fewer values
      than hops nothing changes. 0 means the header is not read.
    - **Trusted networks** (``trusted=``): the peer (``REMOTE_ADDR``) and
      the ``X-Forwarded-For`` chain are walked from the right; the client is
      the first address that is *not* one of your proxies (or the leftmost one
      if all are). Nothing is believed unless the peer itself is trusted. The
      ``x_*`` options then only switch headers on (non-zero) or off (0); a
      list-valued header is read at the position of the outermost trusted hop
      (its leftmost value if it has fewer). IPv4-mapped IPv6 addresses
      (``::ffff:10.0.0.1``, as dual-stack sockets report IPv4 peers) match
      IPv4 networks, and IPv4-mapped networks (inside ``::ffff:0:0/96``) are
      converted to IPv4 when the middleware is built, so they match both
      spellings; wider IPv6 networks such as ``::/0`` do not cover IPv4
      peers (list ``0.0.0.0/0`` for that).
    - **RFC 7239** (``forwarded=N``): ``for``, ``proto`` and ``host`` come from
      the N-th element from the right (in trusted mode: from the element whose
      ``for`` is the client). Quoted values, ``"[2001:db8::1]:4711"``, several
      header lines and elements are understood; an obfuscated (``_hidden``) or
      ``unknown`` client leaves ``REMOTE_ADDR`` alone. Only the elements
      needed are parsed. The believed element's valid ``for``/``by``/
      ``proto``/``host`` are put in ``environ["wsgikit.proxy.forwarded"]``.
      When the request has a ``Forwarded`` header it wins over
      ``X-Forwarded-For/-Proto/-Host``.
    - **Validation**: only a valid IP address (an ``ip:port``, ``[v6]:port``
      or quoted entry gives its address; scope ids are refused) is written to
      ``REMOTE_ADDR``; the scheme must be ``http``/``https`` (``ws``/``wss``
      map to them); a host must be a host name or IP literal with a port of
      1 to 5 digits in 1-65535; ``X-Forwarded-Port`` likewise, and it is
      added to the request's own ``Host`` only if that passes the same host
      check (else ``HTTP_HOST`` is left alone, logged at DEBUG); ports are
      written without leading zeros (``00443`` becomes ``443``, in
      ``SERVER_PORT`` and ``HTTP_HOST``); ``X-Forwarded-Prefix`` must be a
      clean absolute path (no ``//``, no dot segments, no ``%``, ``?``,
      ``#``, ``\\``, spaces or controls), and loses a trailing ``/``
      (``/app/`` becomes ``/app``; ``/`` means the root: an empty
      ``SCRIPT_NAME``). A forwarded header over 8 KiB is refused as a whole
      (see the module docstring for the limits). A value that fails is
      ignored; the request goes on.
    - **Logging** (logger ``wsgikit.proxy``): in hop-count mode anybody who
      reaches the app can send these headers, so refused values are logged
      at DEBUG (no log flooding by clients). In trusted mode they are logged
      at WARNING, as they arrived through a trusted proxy (a misconfigured or
      misbehaving proxy is worth a warning); headers from an untrusted peer
      are ignored with a DEBUG line. When none of the first
      :data:`QUIET_REQUESTS` (100) requests carries any header it reads,
      one WARNING says so and names the likely cause: a WSGI server that
      deletes them (waitress does by default) or no proxy in front. The
      count costs about 0.01 us per request and stops at the first header.
    - ``clear_untrusted=True`` leaves the forwarded headers saying only what
      was believed, for apps and frameworks that read them raw (Bottle does):
      ``X-Forwarded-For`` is trimmed to the believed part of the chain (client
      first), and ``Forwarded`` likewise to the believed element (rebuilt from
      its valid ``for``/``by``/``proto``/``host`` only) and the elements of
      the proxies after it; the other ``X-Forwarded-*`` headers are reduced to
      the believed value, and every header not believed is deleted (all of
      them from an untrusted peer; those switched off by a 0 option, invalid
      or too long; the ``X-Forwarded-*`` ones ``Forwarded`` overrode).
    - A request without any of the headers it reads is passed straight on.

    Environ keys read: ``REMOTE_ADDR``, ``HTTP_HOST``, ``HTTP_FORWARDED``,
    ``HTTP_X_FORWARDED_FOR/_PROTO/_HOST/_PORT/_PREFIX``. Written:
    ``REMOTE_ADDR``, ``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``,
    ``SERVER_PORT``, ``SCRIPT_NAME``, ``wsgikit.proxy.forwarded`` and
    ``wsgikit.proxy.orig``: a dict keyed by the environ keys it set, holding
    their values before; ``None`` for a key that was absent. A key is in it
    whenever a valid forwarded value was written to it, even one equal to
    the value before (so ``orig`` tells what the proxies said, not only what
    changed); the forwarded headers ``clear_untrusted`` trimmed or deleted
    are in it too. ``wsgikit.proxy.orig`` is set (possibly to an empty dict)
    whenever a header it reads is present, and only then.

    Differences from werkzeug, all on input werkzeug would write unchecked
    or unchanged:

    - invalid values are ignored rather than copied, and a header value over
      8 KiB is refused as a whole (werkzeug parses any size);
    - the port of an ``ip:port`` client is dropped, the scheme is lower-cased
      and ``ws``/``wss`` become ``http``/``https``;
    - ports lose leading zeros (``00443`` → ``443``; werkzeug copies
      ``00443`` into ``SERVER_PORT`` and ``HTTP_HOST``);
    - a trailing ``/`` of ``X-Forwarded-Prefix`` is dropped (werkzeug's
      ``SCRIPT_NAME`` ``/app/`` makes ``/app//page`` URLs);
    - originals are under ``wsgikit.proxy.orig`` instead of
      ``werkzeug.proxy_fix.orig``, and hold only the keys written (werkzeug
      stores all six on every request).

    :param app: The WSGI application to wrap.
    :param x_for: Hops to trust in ``X-Forwarded-For`` (sets ``REMOTE_ADDR``).
    :param x_proto: Hops to trust in ``X-Forwarded-Proto`` (sets
        ``wsgi.url_scheme``).
    :param x_host: Hops to trust in ``X-Forwarded-Host`` (sets ``HTTP_HOST``,
        ``SERVER_NAME`` and, when it has a port, ``SERVER_PORT``). Off by
        default.
    :param x_port: Hops to trust in ``X-Forwarded-Port`` (sets ``SERVER_PORT``
        and the port of ``HTTP_HOST``). Off by default.
    :param x_prefix: Hops to trust in ``X-Forwarded-Prefix`` (sets
        ``SCRIPT_NAME``). Off by default.
    :param trusted: Addresses and CIDR networks (IPv4 or IPv6; strings,
        ``ipaddress`` objects, or one string of them separated by commas or
        spaces) of your own proxies. ``None`` (the default) counts hops
        instead. The ``trusted`` attribute holds them as networks, IPv4-mapped
        ones converted to IPv4.
    :param forwarded: Hops to trust in the RFC 7239 ``Forwarded`` header
        (in trusted mode: any non-zero value reads it). 0, the default,
        ignores it.
    :param clear_untrusted: Reduce the forwarded headers in the environ to
        what was believed, and delete the rest. Off by default.

    Every hop count is a whole number of 0 or more; ``True`` and ``False``
    are accepted as 1 and 0 (Python's ``bool`` is an ``int``, and werkzeug
    takes them so too), so ``forwarded=True`` reads the ``Forwarded`` header
    from one proxy, as ``forwarded = true`` does in an INI file.

    .. code-block:: python

        from wsgikit import ProxyFix

        # One nginx in front, setting X-Forwarded-For/-Proto/-Host:
        app = ProxyFix(app, x_for=1, x_proto=1, x_host=1)

        # Or: whatever the chain, believe only our own load balancers.
        app = ProxyFix(app, x_host=1, trusted=["10.0.0.0/8", "fd00::/8"])
    """

    def __init__(
        self,
        app: WSGIApplication,
        x_for: int = 1,
        x_proto: int = 1,
        x_host: int = 0,
        x_port: int = 0,
        x_prefix: int = 0,
        *,
        trusted: str | Iterable[str | _Address | _Network] | None = None,
        forwarded: int = 0,
        clear_untrusted: bool = False,
    ) -> None:
        self.app = app
        self.x_for = _hops("x_for", x_for)
        self.x_proto = _hops("x_proto", x_proto)
        self.x_host = _hops("x_host", x_host)
        self.x_port = _hops("x_port", x_port)
        self.x_prefix = _hops("x_prefix", x_prefix)
        self.forwarded = _hops("forwarded", forwarded)
        if not isinstance(clear_untrusted, bool):
            raise TypeError(f"clear_untrusted must be a bool, not {type(clear_untrusted).__name__}")
        self.clear_untrusted = clear_untrusted
        self.trusted: tuple[_Network, ...] | None = (
            None if trusted is None else _parse_networks(trusted)
        )

        # The headers this configuration reads: without any, a request is
        # passed straight on.
        self._reads = (
            _ALL_HEADERS
            if clear_untrusted
            else tuple(
                key
                for key, hops in (
                    (_X_FOR, self.x_for),
                    (_X_PROTO, self.x_proto),
                    (_FORWARDED, self.forwarded),
                    (_X_HOST, self.x_host),
                    (_X_PORT, self.x_port),
                    (_X_PREFIX, self.x_prefix),
                )
                if hops
            )
        )
        # The pass-through test in __call__ checks three keys written out: a
        # loop over self._reads costs ~0.05 us more per request (a third of
        # the pass-through cost; the call itself is most of the rest). Fewer
        # keys are padded with one no environ has; a 4th to 6th (x_port,
        # x_prefix, forwarded, clear_untrusted) are left in _more_reads.
        self._read_1, self._read_2, self._read_3 = (*self._reads, _NO_KEY, _NO_KEY, _NO_KEY)[:3]
        self._more_reads = self._reads[3:]
        # The single-valued headers read the same way in both modes, in the
        # order they are applied (X-Forwarded-Port after -Host: its port wins),
        # and those of them that still apply when Forwarded gave the client.
        self._values = tuple(
            (key, hops, setter, _NAMES[key])
            for key, hops, setter in (
                (_X_PROTO, self.x_proto, _set_scheme),
                (_X_HOST, self.x_host, _set_host),
                (_X_PORT, self.x_port, _set_port),
                (_X_PREFIX, self.x_prefix, _set_prefix),
            )
            if hops
        )
        self._values_beside_forwarded = tuple(
            item for item in self._values if item[0] in (_X_PORT, _X_PREFIX)
        )
        # Trusted mode: the verdict on each node seen (see _verdict), looked
        # up inline (a dict lookup costs half a call to an lru_cache).
        self._verdicts: dict[str, tuple[str | None, bool]] = {}
        # Counting requests without forwarded headers (QUIET_REQUESTS) until
        # the first one with any, or the warning. next() on a count is atomic,
        # so exactly one thread sees the limit.
        self._watching = bool(self._reads)
        self._quiet = itertools.count(1)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            self._read_1 not in environ
            and self._read_2 not in environ
            and self._read_3 not in environ
            and (not self._more_reads or _none_in(environ, self._more_reads))
        ):
            if self._watching:  # only the first QUIET_REQUESTS requests pay more
                self._count_quiet(environ)
            return self.app(environ, start_response)
        self._watching = False

        orig: dict[str, str | None] = {}
        believed: dict[str, str] = {}  # header key -> what clear_untrusted leaves
        # Forwarded wins over X-Forwarded-For/-Proto/-Host, even when refused.
        by_forwarded = bool(self.forwarded) and _FORWARDED in environ
        values = self._values_beside_forwarded if by_forwarded else self._values
        level = logging.DEBUG  # in hop-count mode anybody can send these headers
        depth = 0  # hop-count mode: each header at its own hop count
        peer = environ.get("REMOTE_ADDR")
        if self.trusted is None:
            self._client_by_hop_count(environ, orig, believed, by_forwarded, level)
        elif isinstance(peer, str) and (self._verdicts.get(peer) or self._verdict(peer))[1]:
            level = logging.WARNING  # sent or passed on by a trusted proxy
            depth = self._client_by_trusted_networks(environ, orig, believed, by_forwarded, level)
        else:
            logger.debug("forwarded headers from untrusted peer %s ignored", log_safe(peer))
            values = ()
        for key, hops, setter, name in values:
            value = _from_right(environ, key, depth or hops, level, depth > 0)
            if value is not None and setter(environ, orig, value, name, level):
                believed[key] = value
        if self.clear_untrusted:
            _keep_only(environ, orig, believed)
        environ[ORIG_KEY] = orig
        return self.app(environ, start_response)

    def _count_quiet(self, environ: WSGIEnvironment) -> None:
        """One more request without forwarded headers; at QUIET_REQUESTS,
        warn once, naming the server's setting that most likely strips them."""
        if next(self._quiet) != QUIET_REQUESTS or not self._watching:
            return
        self._watching = False
        software = str(environ.get("SERVER_SOFTWARE", ""))
        waitress = (
            "waitress deletes X-Forwarded-For/-Proto/-Host/-Port and Forwarded before"
            " the app unless it is run with clear_untrusted_proxy_headers=False (or"
            " with trusted_proxy and trusted_proxy_headers, and then applies them itself)"
        )
        if software.startswith("waitress"):
            cause = f"the server removes them: {waitress}"
        elif software.startswith("gunicorn"):
            cause = (
                "gunicorn passes them on but drops header names with underscores"
                " (X_Forwarded_For): check what your proxy sends"
            )
        else:
            cause = f"the server or the proxy may drop them ({waitress})"
        logger.warning(
            "ProxyFix saw none of the forwarded headers it reads (%s) in its first %d"
            " requests (server %r). If the app is behind a proxy, %s. See 'Deploying"
            " behind servers' in the README. If it is not behind a proxy, leave ProxyFix out.",
            ", ".join(_NAMES[key] for key in self._reads),
            QUIET_REQUESTS,
            software[:_LOG_CHARS],
            cause,
        )

    def _client_by_hop_count(
        self,
        environ: WSGIEnvironment,
        orig: dict[str, str | None],
        believed: dict[str, str],
        by_forwarded: bool,
        level: int,
    ) -> None:
        """werkzeug's rule: the N-th value (element) from the right, if there are N."""
        if by_forwarded:
            _, items = _list(environ, _FORWARDED, level)
            if len(items) >= self.forwarded:
                element = _element(items[-self.forwarded], level)
                seen = {} if element is None else self._apply_element(environ, orig, element, level)
                if self.clear_untrusted:
                    _keep_forwarded(believed, seen, items[len(items) - self.forwarded + 1 :])
        elif self.x_for:
            client = _from_right(environ, _X_FOR, self.x_for, level)
            if client is not None:
                keep = self.x_for if _set_client(environ, orig, client, level) else self.x_for - 1
                if keep and self.clear_untrusted:
                    chain = _items(environ[_X_FOR])[-keep:]
                    believed[_X_FOR] = ", ".join(map(_unquote, chain))

    def _client_by_trusted_networks(
        self,
        environ: WSGIEnvironment,
        orig: dict[str, str | None],
        believed: dict[str, str],
        by_forwarded: bool,
        level: int,
    ) -> int:
        """Walk from the (trusted) peer leftwards while the hops are our own
        proxies. Returns the depth: the position, from the right, of the value
        the outermost trusted proxy wrote in list headers."""
        depth = 1
        verdicts, verdict = self._verdicts, self._verdict
        if by_forwarded:
            _, items = _list(environ, _FORWARDED, level)
            element: dict[str, str | None] | None = None
            for depth in range(1, len(items) + 1):
                element = _element(items[-depth], level)
                node = None if element is None else element.get("for")
                if node is None or not (verdicts.get(node) or verdict(node))[1]:
                    break
            seen = {} if element is None else self._apply_element(environ, orig, element, level)
            if self.clear_untrusted and items:
                _keep_forwarded(believed, seen, items[len(items) - depth + 1 :])
            return depth
        if not self.x_for:
            return depth
        header, chain = _list(environ, _X_FOR, level)
        if not (header and chain):
            return depth
        if '"' in header:
            chain = [_unquote(item) for item in chain]
        client: str | None = None
        for depth in range(1, len(chain) + 1):
            node = chain[-depth]
            client, trusted = verdicts.get(node) or verdict(node)
            if not trusted:
                break
        keep = depth
        if client is not None:
            _store(environ, orig, "REMOTE_ADDR", client)
        else:
            _reject("X-Forwarded-For", chain[-depth], level)
            keep -= 1
        if keep:
            believed[_X_FOR] = ", ".join(chain[-keep:])
        return depth

    def _verdict(self, node: str) -> tuple[str | None, bool]:
        """(the node's address or None if invalid, whether it is trusted),
        remembered in ``self._verdicts`` for nodes of at most ``_MAX_NODE``
        characters; the memo is emptied when it reaches 4096 entries."""
        if len(node) > _MAX_NODE:
            return _INVALID
        result = _trust_verdict(self.trusted or (), node)
        if len(self._verdicts) >= _MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[node] = result
        return result

    def _apply_element(
        self,
        environ: WSGIEnvironment,
        orig: dict[str, str | None],
        element: dict[str, str | None],
        level: int,
    ) -> dict[str, str]:
        """Copy a believed RFC 7239 element's ``for``/``proto``/``host``;
        returns its valid parameters (``for``, ``by``, ``proto``, ``host``)."""
        seen: dict[str, str] = {}
        if "for" in element:
            node = element["for"]
            if node is not None and _node_is_valid(node):
                seen["for"] = node
                address = _client_address(node)
                if address is not None:
                    _store(environ, orig, "REMOTE_ADDR", address)
                # else: "unknown" or obfuscated; the client stays unknown.
            else:
                _reject("Forwarded for", node or "", level)
        by = element.get("by")
        if by is not None and _node_is_valid(by):
            seen["by"] = by
        proto = element.get("proto")
        if proto is not None and _set_scheme(environ, orig, proto, "Forwarded proto", level):
            seen["proto"] = proto.lower()
        host = element.get("host")
        if host is not None and _set_host(environ, orig, host, "Forwarded host", level):
            seen["host"] = host
        if seen:
            environ[FORWARDED_KEY] = seen
        return seen


class FakeForwardedFor:
    """Make an app believe it sits behind a proxy chain, for tests and
    development setups.

    - Adds ``X-Forwarded-For: <real_ip>, <proxies...>`` (IPv6 bare, as
      proxies write it) when the request has none, or always with
      ``override=True``.
    - On request, also ``X-Forwarded-Proto``, ``-Host``, ``-Port`` and
      ``-Prefix`` (one value per hop of the chain, so ``ProxyFix`` finds the
      value whatever hop count it trusts) and an RFC 7239 ``Forwarded`` header
      with one element per hop (``for="[2001:db8::1]"`` for IPv6, plus
      ``proto``/``host`` when given).
    - Each header the client already sent is kept unless ``override=True``.
    - ``REMOTE_ADDR`` is not changed: the server's peer plays the last proxy.

    Environ keys written: ``HTTP_X_FORWARDED_FOR`` and, when configured,
    ``HTTP_X_FORWARDED_PROTO/_HOST/_PORT/_PREFIX`` and ``HTTP_FORWARDED``.

    :param app: The WSGI application to wrap.
    :param real_ip: The client address the app should see. Must be a valid
        IPv4 or IPv6 address.
    :param proxies: The proxies the request seemingly passed, outermost
        first. Valid IP addresses (a string is split on commas and spaces).
    :param override: Replace headers the client sent instead of keeping them.
    :param proto: ``"http"`` or ``"https"`` for ``X-Forwarded-Proto``;
        ``None`` (the default) sends none.
    :param host: A host (``name`` or ``name:port``) for ``X-Forwarded-Host``;
        ``None`` sends none.
    :param port: A port (1-65535) for ``X-Forwarded-Port``; ``None`` sends
        none.
    :param prefix: A clean absolute path for ``X-Forwarded-Prefix``; ``None``
        sends none.
    :param forwarded: Also send the chain as an RFC 7239 ``Forwarded``
        header. Off by default. A bool here; :class:`ProxyFix`'s
        ``forwarded`` is a hop count, which takes ``True`` as 1.

    .. code-block:: python

        from wsgikit import FakeForwardedFor, ProxyFix

        app = ProxyFix(app, x_for=3, x_proto=1, x_host=1)
        app = FakeForwardedFor(app, real_ip="203.0.113.7", proto="https",
                               host="shop.example")
    """

    def __init__(
        self,
        app: WSGIApplication,
        real_ip: str = "10.1.1.1",
        proxies: str | Iterable[str] = ("10.3.4.5", "127.0.0.1"),
        *,
        override: bool = False,
        proto: str | None = None,
        host: str | None = None,
        port: int | None = None,
        prefix: str | None = None,
        forwarded: bool = False,
    ) -> None:
        self.app = app
        self.real_ip = _checked_ip("real_ip", real_ip)
        if isinstance(proxies, str):
            proxies = _split_words(proxies)
        elif not isinstance(proxies, Iterable):
            raise TypeError(f"proxies must be a list of addresses, not {type(proxies).__name__}")
        self.proxies = tuple(_checked_ip("proxies", proxy) for proxy in proxies)
        for name, flag in (("override", override), ("forwarded", forwarded)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
        self.override = override
        self.forwarded = forwarded
        if proto is not None and proto not in ("http", "https"):
            raise ValueError(f"proto must be 'http' or 'https', not {proto!r}")
        self.proto = proto
        if host is not None and (not isinstance(host, str) or _valid_host(host) is None):
            raise ValueError(f"host must be a host name or IP literal with optional port: {host!r}")
        self.host = host
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise ValueError(f"port must be a whole number from 1 to 65535, not {port!r}")
        self.port = port
        if prefix is not None and (not isinstance(prefix, str) or not _valid_prefix(prefix)):
            raise ValueError(f"prefix must be a clean absolute path like '/app', not {prefix!r}")
        self.prefix = prefix

        chain = (self.real_ip, *self.proxies)
        headers = {_X_FOR: ", ".join(chain)}
        for key, value in ((_X_PROTO, proto), (_X_HOST, host), (_X_PREFIX, prefix)):
            if value is not None:
                headers[key] = ", ".join([value] * len(chain))
        if port is not None:
            headers[_X_PORT] = ", ".join([str(port)] * len(chain))
        if forwarded:
            extra = "".join(
                f";{name}={quote_header_value(value)}"
                for name, value in (("proto", proto), ("host", host))
                if value is not None
            )
            headers[_FORWARDED] = ", ".join(f"for={_forwarded_node(ip)}{extra}" for ip in chain)
        self._headers = headers
        # Iterating a tuple is ~0.08 us cheaper per request than dict.items().
        self._pairs = tuple(headers.items())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.override:
            environ.update(self._headers)
        else:
            for key, value in self._pairs:
                if key not in environ:
                    environ[key] = value
        return self.app(environ, start_response)


# --- private helpers ----------------------------------------------------------


def _hops(name: str, value: object) -> int:
    if isinstance(value, bool):
        return int(value)  # True is one hop, as in werkzeug and the INI files
    if not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number of hops, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be 0 or more hops, not {value}")
    return value


def _none_in(environ: WSGIEnvironment, keys: tuple[str, ...]) -> bool:
    return not any(key in environ for key in keys)


def _split_words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", text) if word]


def _parse_networks(trusted: object) -> tuple[_Network, ...]:
    """``trusted=`` as networks; a single address becomes a /32 or /128, and
    an IPv4-mapped network (inside ``::ffff:0:0/96``) the IPv4 one."""
    if isinstance(trusted, str):
        trusted = _split_words(trusted)
    if not isinstance(trusted, Iterable):
        raise TypeError(
            f"trusted must be a list of addresses or networks, not {type(trusted).__name__}"
        )
    networks: list[_Network] = []
    for item in trusted:
        network: _Network
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            network = item
        elif isinstance(item, ipaddress.IPv4Address | ipaddress.IPv6Address):
            network = ipaddress.ip_network(item)
        elif not isinstance(item, str):
            raise TypeError(f"trusted entries must be strings, not {type(item).__name__}")
        else:
            try:
                if "%" in item:
                    raise ValueError("scope ids are not supported")
                network = ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as error:
                raise ValueError(
                    f"trusted: {item!r} is not an IP address or network ({error})"
                ) from None
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            mapped = network.network_address.ipv4_mapped
            if mapped is not None:  # always, inside ::ffff:0:0/96
                network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        networks.append(network)
    if not networks:
        raise ValueError(
            "trusted must name at least one address or network"
            " (leave it out, or None, to count hops instead)"
        )
    return tuple(networks)


def _checked_ip(option: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{option} must be IP address strings, not {type(value).__name__}")
    if len(value) > _MAX_NODE or _client_address(value) != value:
        raise ValueError(f"{option}: {value!r} is not a plain IPv4 or IPv6 address")
    return value


def _forwarded_node(ip: str) -> str:
    """An RFC 7239 node: IPv6 bracketed and quoted, IPv4 as a token."""
    return f'"[{ip}]"' if ":" in ip else ip


@functools.lru_cache(maxsize=4096)
def _client_address(text: str) -> str | None:
    """The IP address of an ``ip``, ``ip:port``, ``[v6]`` or ``[v6]:port``
    node, as written (without port or brackets); ``None`` if not valid.
    Callers pass no text over ``_MAX_NODE`` characters (the cache's keys)."""
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


def _node_is_valid(node: str) -> bool:
    """An RFC 7239 node of at most ``_MAX_NODE`` characters: an address (with
    optional port), ``unknown`` or an obfuscated identifier (with optional port)."""
    if len(node) > _MAX_NODE:
        return False
    if _client_address(node) is not None:
        return True
    name, _, port = node.partition(":")
    if port and not _valid_node_port(port):
        return False
    return name == "unknown" or _OBFUSCATED_RE.fullmatch(name) is not None


def _trust_verdict(networks: tuple[_Network, ...], node: str) -> tuple[str | None, bool]:
    """(the node's address or None if invalid, whether it is trusted)."""
    address = _client_address(node)
    if address is None:
        return _INVALID
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
        ip = ip.ipv4_mapped
    return address, any(ip in network for network in networks)


def _too_long(key: str, value: str, level: int) -> None:
    logger.log(
        level,
        "ignoring %s header of %d characters (the limit is %d)",
        _NAMES[key],
        len(value),
        _MAX_HEADER,
    )


def _items(value: str) -> list[str]:
    """The items of a list header, as werkzeug's ``parse_list_header`` gives
    them (blanks stripped, empty ones dropped, nothing if a quoted string is
    not closed) but still quoted (see :func:`_unquote`): only the items used
    are unquoted or parsed further."""
    if '"' not in value:
        # The usual case, no quoted strings: str.split. Measured 0.36 us for
        # one address and 0.75 us for five, against 1.6 and 4.6 us.
        items = [item.strip(" \t") for item in value.split(",")]
        return [item for item in items if item] if "" in items else items
    if _BALANCED_RE.fullmatch(value) is None:
        return []
    return _ITEM_RE.findall(value)


def _list(environ: WSGIEnvironment, key: str, level: int) -> tuple[str | None, list[str]]:
    """A forwarded list header's value (``None`` if absent or too long) and
    its items (see :func:`_items`); a value with none (an unclosed quoted
    string, only commas) is logged."""
    header: str | None = environ.get(key)
    if not header:
        return header, []
    if len(header) > _MAX_HEADER:
        _too_long(key, header, level)
        return None, []
    items = _items(header)
    if not items:
        _reject(_NAMES[key], header, level)
    return header, items


def _unquote(item: str) -> str:
    return unquote_header_value(item) if item[0] == '"' else item


def _from_right(
    environ: WSGIEnvironment, key: str, hops: int, level: int, or_leftmost: bool = False
) -> str | None:
    """The ``hops``-th value from the right of a list header, as werkzeug's
    ``_get_real_value`` picks it. With fewer values: ``None`` or, with
    ``or_leftmost`` (trusted mode), the leftmost value. ``None`` also when the
    header is absent, empty or too long."""
    value: str | None = environ.get(key)
    if value and len(value) <= _MAX_HEADER:
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
    _, items = _list(environ, key, level)  # logs a value too long or without items
    if len(items) >= hops:
        return _unquote(items[-hops])
    return _unquote(items[0]) if or_leftmost and items else None


def _element(item: str, level: int) -> dict[str, str | None] | None:
    """One RFC 7239 element (``;``-separated pairs, quotes respected; names
    are case-insensitive), or ``None`` if it is over ``_MAX_ELEMENT``."""
    if len(item) > _MAX_ELEMENT:
        logger.log(level, "ignoring Forwarded element of %d characters", len(item))
        return None
    pairs = parse_dict_header(_unquote(item).replace(";", ","))
    return {name.lower(): pair for name, pair in pairs.items()}


def _reject(what: str, value: str, level: int) -> None:
    logger.log(level, 'ignoring invalid %s value "%s"', what, log_safe(value, _LOG_CHARS))


def _store(environ: WSGIEnvironment, orig: dict[str, str | None], key: str, value: str) -> None:
    """Write a believed value, keeping the key's value before in ``orig``."""
    if key not in orig:
        orig[key] = environ.get(key)
    environ[key] = value


def _set_client(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, level: int
) -> bool:
    address = _client_address(value) if len(value) <= _MAX_NODE else None
    if address is None:
        _reject("X-Forwarded-For", value, level)
        return False
    _store(environ, orig, "REMOTE_ADDR", address)
    return True


def _set_scheme(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    scheme = _SCHEMES.get(value.lower())
    if scheme is None:
        _reject(what, value, level)
        return False
    _store(environ, orig, "wsgi.url_scheme", scheme)
    return True


@functools.lru_cache(maxsize=1024)
def _valid_host(value: str) -> tuple[str, str | None] | None:
    """(name, port without leading zeros or None) of a clean ``Host`` value,
    else ``None``. Callers pass no value over ``_MAX_HOST`` characters."""
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


def _set_host(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    parsed = _valid_host(value) if len(value) <= _MAX_HOST else None
    if parsed is None:
        _reject(what, value, level)
        return False
    name, port = parsed
    # As werkzeug: SERVER_PORT only changes when the host names a port.
    if port is None:
        _store(environ, orig, "HTTP_HOST", name)
    else:
        _store(environ, orig, "HTTP_HOST", f"{name}:{port}")
        _store(environ, orig, "SERVER_PORT", port)
    _store(environ, orig, "SERVER_NAME", name)
    return True


def _set_port(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    if not (value.isascii() and value.isdigit() and len(value) <= 5 and 0 < int(value) < 65536):
        _reject(what, value, level)
        return False
    port = str(int(value))  # "00443" -> "443"
    host = environ.get("HTTP_HOST")
    if host:
        # The client's own Host is written only if it passes the check a
        # forwarded host must pass: "evil/x" must not become "evil/x:443".
        parsed = _valid_host(host) if len(host) <= _MAX_HOST else None
        if parsed is None:
            # DEBUG in both modes: the Host header comes from the client.
            logger.debug('not adding %s to invalid Host "%s"', what, log_safe(host, _LOG_CHARS))
        else:
            _store(environ, orig, "HTTP_HOST", f"{parsed[0]}:{port}")
    _store(environ, orig, "SERVER_PORT", port)
    return True


def _valid_prefix(value: str) -> bool:
    return _PREFIX_RE.fullmatch(value) is not None and _DOT_SEGMENT_RE.search(value) is None


def _set_prefix(
    environ: WSGIEnvironment, orig: dict[str, str | None], value: str, what: str, level: int
) -> bool:
    if value == "/":
        # Mounted at the root: PEP 3333 spells that as an empty SCRIPT_NAME.
        _store(environ, orig, "SCRIPT_NAME", "")
        return True
    if not _valid_prefix(value):
        _reject(what, value, level)
        return False
    # "/app/" + PATH_INFO "/page" would make "/app//page" URLs.
    _store(environ, orig, "SCRIPT_NAME", value[:-1] if value.endswith("/") else value)
    return True


def _keep_forwarded(believed: dict[str, str], seen: dict[str, str], after: list[str]) -> None:
    """``clear_untrusted``: what ``Forwarded`` keeps. The believed element is
    rebuilt from its valid parameters only (dropped if it has none); the
    elements after it, added by the proxies that were trusted, stay as
    they came. Without any, the header is deleted (see :func:`_keep_only`)."""
    parts = after
    if seen:
        rebuilt = ";".join(f"{name}={quote_header_value(value)}" for name, value in seen.items())
        parts = [rebuilt, *after]
    if parts:
        believed[_FORWARDED] = ", ".join(parts)


def _keep_only(
    environ: WSGIEnvironment, orig: dict[str, str | None], believed: dict[str, str]
) -> None:
    """``clear_untrusted``: leave each forwarded header saying only what was
    believed (X-Forwarded-For trimmed to the believed chain, the others
    reduced to the believed value); delete the ones not believed."""
    for key in _ALL_HEADERS:
        if key in environ:
            if key in believed:
                _store(environ, orig, key, believed[key])
            else:
                orig.setdefault(key, environ[key])
                del environ[key]
