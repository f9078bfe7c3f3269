"""Believe the ``X-Forwarded-*`` and RFC 7239 ``Forwarded`` headers of your
own reverse proxies, safely.

Behind a reverse proxy the WSGI server sees the proxy as the client; the proxy
says who the real client was, which scheme and host it used and under which
path prefix the app is mounted, in request headers. :class:`ProxyFix` copies
what it is told to believe into the environ (``REMOTE_ADDR``,
``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``, ``SERVER_PORT``,
``SCRIPT_NAME``). It takes werkzeug's ``ProxyFix`` arguments with the same
meaning, so moving from werkzeug is an import change, and adds a
trusted-network mode, RFC 7239 ``Forwarded`` and strict validation of every
value it writes.

When *not* to use it: only when the app really sits behind proxies you control
that set (or overwrite) the headers you enable. Every forwarded header can be
forged by a client, so believing one that no proxy of yours sets lets anybody
choose their own IP address, scheme or host.

The header grammar (list splitting, ``Forwarded`` elements, the checks of
addresses, hosts and prefixes, the size limits) lives in
:mod:`wsgikit._forwarded`; the writes of believed values into the environ
(with their originals kept, and ``clear_untrusted``'s trimming) in
:mod:`wsgikit._proxy_fix_writes`. This module decides what to believe.
:class:`~wsgikit.fake_forwarded.FakeForwardedFor`, the test-side counterpart
that *sends* these headers, lives in :mod:`wsgikit.fake_forwarded` and is
re-exported here because the documented import is
``from wsgikit.proxy import FakeForwardedFor``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._forwarded import (
    ALL_HEADERS,
    FORWARDED,
    INVALID,
    LOG_CHARS,
    MAX_HOST,
    MAX_NODE,
    NAMES,
    SCHEMES,
    X_FOR,
    X_HOST,
    X_PORT,
    X_PREFIX,
    X_PROTO,
    Address,
    Network,
    client_address,
    from_right,
    list_header,
    parse_element,
    parse_networks,
    reject,
    trust_verdict,
    unquote,
    valid_host,
)
from ._http import log_safe
from ._options import check_bool, check_int
from ._proxy_fix_writes import (
    apply_element,
    keep_forwarded,
    keep_only,
    set_client,
    set_host,
    set_port,
    set_prefix,
    set_scheme,
    store,
)
from .fake_forwarded import FakeForwardedFor as FakeForwardedFor

logger = logging.getLogger("wsgikit.proxy")

#: Environ key of the dict of original values (keyed by the environ keys set).
ORIG_KEY = "wsgikit.proxy.orig"
#: Environ key of the RFC 7239 element that was believed (validated parameters only).
FORWARDED_KEY = "wsgikit.proxy.forwarded"
#: When none of a ProxyFix's first this many requests carries any of the
#: forwarded headers it reads, it logs one WARNING: most likely the WSGI
#: server deletes them (waitress does by default) or no proxy sends them.
QUIET_REQUESTS = 100

# Entries in a trusted-mode instance's memo of node verdicts (see _verdict).
_MAX_VERDICTS = 4096
# A dict key no environ has (ProxyFix pads its pass-through test with it).
_NO_KEY = object()


class ProxyFix:
    """Set the client address, scheme, host, port and path prefix from the
    headers your reverse proxies add.

    - **Hop counts** (werkzeug's model, the default): ``x_for=N`` believes the
      N-th value from the right of ``X-Forwarded-For``, and likewise for the
      other ``x_*`` options; with fewer values nothing changes.
    - **Trusted networks** (``trusted=``): the client is the rightmost address
      of the peer and ``X-Forwarded-For`` chain that is not one of your
      proxies; nothing is believed from an untrusted peer. The ``x_*`` options
      then only switch headers on or off.
    - **RFC 7239**: with ``forwarded`` set, a ``Forwarded`` header on the
      request wins over ``X-Forwarded-For/-Proto/-Host``.
    - **Validation**: only a valid address, scheme, host, port or path prefix
      is written; anything else (or a header over 8 KiB) is ignored and logged
      on ``wsgikit.proxy`` (DEBUG, WARNING when a trusted proxy passed it on).
    - A request without any header it reads is passed straight on; when none of
      the first :data:`QUIET_REQUESTS` requests has one, one WARNING says so.

    Environ keys read: ``REMOTE_ADDR``, ``HTTP_HOST``, ``HTTP_FORWARDED``,
    ``HTTP_X_FORWARDED_FOR/_PROTO/_HOST/_PORT/_PREFIX``. Written:
    ``REMOTE_ADDR``, ``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``,
    ``SERVER_PORT``, ``SCRIPT_NAME``; ``wsgikit.proxy.orig`` (the values before,
    keyed by the environ keys written, ``None`` for an absent one) and
    ``wsgikit.proxy.forwarded`` (the believed ``Forwarded`` element).

    :param app: The WSGI application to wrap.
    :param x_for: Hops to trust in ``X-Forwarded-For`` (sets ``REMOTE_ADDR``).
        Default 1.
    :param x_proto: Hops to trust in ``X-Forwarded-Proto`` (sets
        ``wsgi.url_scheme``). Default 1.
    :param x_host: Hops to trust in ``X-Forwarded-Host`` (sets ``HTTP_HOST``,
        ``SERVER_NAME`` and a port it names). Default 0: not read.
    :param x_port: Hops to trust in ``X-Forwarded-Port`` (sets ``SERVER_PORT``
        and the port of ``HTTP_HOST``). Default 0.
    :param x_prefix: Hops to trust in ``X-Forwarded-Prefix`` (sets
        ``SCRIPT_NAME``). Default 0.
    :param trusted: Addresses and CIDR networks of your own proxies (a list,
        or one string separated by commas or blanks). Default ``None``: count
        hops instead.
    :param forwarded: Hops to trust in the RFC 7239 ``Forwarded`` header (in
        trusted mode: any non-zero value reads it). Default 0: not read.
    :param clear_untrusted: Reduce the forwarded headers in the environ to what
        was believed and delete the rest, for code reading them raw. Default
        ``False``.

    Hop counts are whole numbers of 0 or more; ``True``/``False`` count as 1/0.

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
        trusted: str | Iterable[str | Address | Network] | None = None,
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
        self.clear_untrusted = check_bool("clear_untrusted", clear_untrusted)
        self.trusted: tuple[Network, ...] | None = (
            None if trusted is None else parse_networks(trusted)
        )

        # The headers this configuration reads: without any, a request is
        # passed straight on.
        self._reads = (
            ALL_HEADERS
            if clear_untrusted
            else tuple(
                key
                for key, hops in (
                    (X_FOR, self.x_for),
                    (X_PROTO, self.x_proto),
                    (FORWARDED, self.forwarded),
                    (X_HOST, self.x_host),
                    (X_PORT, self.x_port),
                    (X_PREFIX, self.x_prefix),
                )
                if hops
            )
        )
        # The pass-through test in __call__ checks three keys written out: a
        # loop over self._reads costs ~0.05 us more per request (a third of
        # the pass-through cost; the call itself is most of the rest). Fewer
        # keys are padded by repeating the first (a str key: dicts look those
        # up fastest), or with one no environ has; a 4th to 6th (x_port,
        # x_prefix, forwarded, clear_untrusted) are left in _more_reads.
        padding = self._reads[:1] or (_NO_KEY,)
        self._read_1, self._read_2, self._read_3 = (*self._reads, *padding * 3)[:3]
        self._more_reads = self._reads[3:]
        # The single-valued headers read the same way in both modes, in the
        # order they are applied (X-Forwarded-Port after -Host: its port wins),
        # and those of them that still apply when Forwarded gave the client.
        self._values = tuple(
            (key, hops, setter, NAMES[key])
            for key, hops, setter in (
                (X_PROTO, self.x_proto, set_scheme),
                (X_HOST, self.x_host, set_host),
                (X_PORT, self.x_port, set_port),
                (X_PREFIX, self.x_prefix, set_prefix),
            )
            if hops
        )
        self._values_beside_forwarded = tuple(
            item for item in self._values if item[0] in (X_PORT, X_PREFIX)
        )
        # Trusted mode: the verdict on each node seen (see _verdict), looked
        # up inline (a dict lookup costs half a call to an lru_cache).
        self._verdicts: dict[str, tuple[str | None, bool]] = {}
        # Counting requests without forwarded headers (QUIET_REQUESTS) until
        # the first one with any, or the warning. next() on a count is atomic,
        # so exactly one thread sees the limit.
        self._watching = bool(self._reads)
        self._quiet = itertools.count(1)
        # Whether a request without the first three headers needs a second
        # look (while counting, or for a 4th to 6th header): one flag, so the
        # usual pass-through tests three keys and one attribute (#11).
        self._look_again = self._watching or bool(self._more_reads)
        # werkzeug's configuration (hop counts, X-Forwarded-For/-Proto and
        # maybe -Host, nothing else): __call__ takes a path that makes the
        # same checks and writes without the general path's helper calls.
        self._hops_only = self.trusted is None and not (
            self.forwarded or self.x_port or self.x_prefix or clear_untrusted
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # self.app is read into a local before the call: "self.app(...)" is
        # a method-call lookup that CPython 3.11 cannot specialise for an
        # instance attribute, and it costs more than the attribute read.
        if not (self._read_1 in environ or self._read_2 in environ or self._read_3 in environ):
            if not self._look_again:
                app = self.app
                return app(environ, start_response)
            if _none_in(environ, self._more_reads):
                if self._watching:  # only the first QUIET_REQUESTS requests pay more
                    self._count_quiet(environ)
                app = self.app
                return app(environ, start_response)
        if self._watching:
            self._stop_watching()
        if self._hops_only:
            app = self.app
            return app(self._by_hops_only(environ), start_response)

        orig: dict[str, str | None] = {}
        believed: dict[str, str] = {}  # header key -> what clear_untrusted leaves
        # Forwarded wins over X-Forwarded-For/-Proto/-Host, even when refused.
        by_forwarded = bool(self.forwarded) and FORWARDED in environ
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
            value = from_right(environ, key, depth or hops, level, depth > 0)
            if value is not None and setter(environ, orig, value, name, level):
                believed[key] = value
        if self.clear_untrusted:
            keep_only(environ, orig, believed)
        environ[ORIG_KEY] = orig
        app = self.app
        return app(environ, start_response)

    def _by_hops_only(self, environ: WSGIEnvironment) -> WSGIEnvironment:
        """The general path of :meth:`__call__` for hop counts with only
        ``x_for``, ``x_proto`` and ``x_host``: the same checks, log lines and
        environ writes, inlined. Each environ key is written by one header
        only, so ``orig`` needs no first-write test. The werkzeug-default
        configuration on a request with both headers makes 5 Python calls
        here instead of 9 (#11)."""
        orig: dict[str, str | None] = {}
        level = logging.DEBUG  # in hop-count mode anybody can send these headers
        if self.x_for:
            value = from_right(environ, X_FOR, self.x_for, level)
            if value is not None:
                client = client_address(value) if len(value) <= MAX_NODE else None
                if client is None:
                    reject("X-Forwarded-For", value, level)
                else:
                    orig["REMOTE_ADDR"] = environ.get("REMOTE_ADDR")
                    environ["REMOTE_ADDR"] = client
        if self.x_proto:
            value = from_right(environ, X_PROTO, self.x_proto, level)
            if value is not None:
                scheme = SCHEMES.get(value.lower())
                if scheme is None:
                    reject(NAMES[X_PROTO], value, level)
                else:
                    orig["wsgi.url_scheme"] = environ.get("wsgi.url_scheme")
                    environ["wsgi.url_scheme"] = scheme
        if self.x_host:
            value = from_right(environ, X_HOST, self.x_host, level)
            if value is not None:
                parsed = valid_host(value) if len(value) <= MAX_HOST else None
                if parsed is None:
                    reject(NAMES[X_HOST], value, level)
                else:
                    # As set_host: SERVER_PORT only changes when the host names one.
                    name, port = parsed
                    orig["HTTP_HOST"] = environ.get("HTTP_HOST")
                    if port is None:
                        environ["HTTP_HOST"] = name
                    else:
                        environ["HTTP_HOST"] = f"{name}:{port}"
                        orig["SERVER_PORT"] = environ.get("SERVER_PORT")
                        environ["SERVER_PORT"] = port
                    orig["SERVER_NAME"] = environ.get("SERVER_NAME")
                    environ["SERVER_NAME"] = name
        environ[ORIG_KEY] = orig
        return environ

    def _stop_watching(self) -> None:
        """No more counting of quiet requests (a forwarded header was seen, or
        the warning was given): only a 4th to 6th header needs a second look."""
        self._watching = False
        self._look_again = bool(self._more_reads)

    def _count_quiet(self, environ: WSGIEnvironment) -> None:
        """One more request without forwarded headers; at QUIET_REQUESTS,
        warn once, naming the server's setting that most likely strips them."""
        if next(self._quiet) != QUIET_REQUESTS or not self._watching:
            return
        self._stop_watching()
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
            " requests (server %r). If the app is behind a proxy, %s. See 'Deploying'"
            " in the docs (docs/deploying.md). If it is not behind a proxy, leave ProxyFix out.",
            ", ".join(NAMES[key] for key in self._reads),
            QUIET_REQUESTS,
            software[:LOG_CHARS],
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
            _, found = list_header(environ, FORWARDED, level)
            if len(found) >= self.forwarded:
                hops = self.forwarded
                element = parse_element(found[-hops], level)
                self._believe_element(environ, orig, believed, element, found, hops, level)
        elif self.x_for:
            client = from_right(environ, X_FOR, self.x_for, level)
            if client is not None:
                keep = self.x_for if set_client(environ, orig, client, level) else self.x_for - 1
                if keep and self.clear_untrusted:
                    chain = list_header(environ, X_FOR, level)[1][-keep:]
                    believed[X_FOR] = ", ".join(map(unquote, chain))

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
            _, found = list_header(environ, FORWARDED, level)
            element: dict[str, str | None] | None = None
            for depth in range(1, len(found) + 1):
                element = parse_element(found[-depth], level)
                node = None if element is None else element.get("for")
                if node is None or not (verdicts.get(node) or verdict(node))[1]:
                    break
            self._believe_element(environ, orig, believed, element, found, depth, level)
            return depth
        if not self.x_for:
            return depth
        header, chain = list_header(environ, X_FOR, level)
        if not (header and chain):
            return depth
        if '"' in header:
            chain = [unquote(item) for item in chain]
        client: str | None = None
        for depth in range(1, len(chain) + 1):
            node = chain[-depth]
            client, trusted = verdicts.get(node) or verdict(node)
            if not trusted:
                break
        keep = depth
        if client is not None:
            store(environ, orig, "REMOTE_ADDR", client)
        else:
            reject("X-Forwarded-For", chain[-depth], level)
            keep -= 1
        if keep:
            believed[X_FOR] = ", ".join(chain[-keep:])
        return depth

    def _believe_element(
        self,
        environ: WSGIEnvironment,
        orig: dict[str, str | None],
        believed: dict[str, str],
        element: dict[str, str | None] | None,
        found: list[str],
        depth: int,
        level: int,
    ) -> None:
        """Apply the ``Forwarded`` element at ``depth`` from the right of
        ``found`` (``None``: too long to parse) and, with ``clear_untrusted``,
        note what the header keeps: that element's valid parameters and the
        elements after it, which the believed proxies added."""
        seen = {} if element is None else apply_element(environ, orig, element, level)
        if seen:
            environ[FORWARDED_KEY] = seen
        if self.clear_untrusted:
            keep_forwarded(believed, seen, found[len(found) - depth + 1 :])

    def _verdict(self, node: str) -> tuple[str | None, bool]:
        """(the node's address or None if invalid, whether it is trusted),
        remembered in ``self._verdicts`` for nodes of at most ``MAX_NODE``
        characters; the memo is emptied when it reaches 4096 entries."""
        if len(node) > MAX_NODE:
            return INVALID
        result = trust_verdict(self.trusted or (), node)
        if len(self._verdicts) >= _MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[node] = result
        return result


# --- private helpers ----------------------------------------------------------


def _hops(name: str, value: object) -> int:
    if isinstance(value, bool):
        return int(value)  # True is one hop, as in werkzeug and the INI files
    return check_int(name, value, unit="hops")


def _none_in(environ: WSGIEnvironment, keys: tuple[str, ...]) -> bool:
    return not any(key in environ for key in keys)
