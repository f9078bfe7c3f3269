"""Make an app believe it sits behind a proxy chain: the test side of
:class:`~wsgikit.ProxyFix`.

:class:`FakeForwardedFor` adds the ``X-Forwarded-*`` and RFC 7239
``Forwarded`` headers a chain of reverse proxies would send, so an app (and the
``ProxyFix`` in front of it) can be tried without one: in tests, in a
development server, in ``wsgikit proxy --fake-for``.

When *not* to use it: never in production. It makes up the client's address,
scheme and host; an app that believes them there believes a lie.

Also importable as ``wsgikit.proxy.FakeForwardedFor`` (the documented home).
"""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._forwarded import (
    FORWARDED,
    MAX_NODE,
    X_FOR,
    X_HOST,
    X_PORT,
    X_PREFIX,
    X_PROTO,
    client_address,
    format_element,
    valid_host,
    valid_prefix,
)
from ._options import check_bool, check_int, check_strings


class FakeForwardedFor:
    """Make an app believe it sits behind a proxy chain, for tests and
    development setups.

    - Adds ``X-Forwarded-For: <real_ip>, <proxies...>`` when the request has
      none, or always with ``override=True``.
    - On request also ``X-Forwarded-Proto/-Host/-Port/-Prefix`` (one value per
      hop, so ``ProxyFix`` finds it whatever hop count it trusts) and
      ``Forwarded`` (one element per hop).
    - ``REMOTE_ADDR`` is not changed: the server's peer plays the last proxy.

    Environ keys written: ``HTTP_X_FORWARDED_FOR`` and, when configured,
    ``HTTP_X_FORWARDED_PROTO/_HOST/_PORT/_PREFIX`` and ``HTTP_FORWARDED``.

    :param app: The WSGI application to wrap.
    :param real_ip: The client address the app should see (an IPv4 or IPv6
        address). Default ``"10.1.1.1"``.
    :param proxies: The proxies the request seemingly passed, outermost first
        (IP addresses; a string is split on commas and blanks). Default
        ``("10.3.4.5", "127.0.0.1")``.
    :param override: Replace the forwarded headers the client sent instead of
        keeping them. Default ``False``.
    :param proto: ``"http"`` or ``"https"`` for ``X-Forwarded-Proto``. Default
        ``None``: not sent.
    :param host: A host (``name`` or ``name:port``) for ``X-Forwarded-Host``.
        Default ``None``: not sent.
    :param port: A port (1-65535) for ``X-Forwarded-Port``. Default ``None``:
        not sent.
    :param prefix: A clean absolute path for ``X-Forwarded-Prefix``. Default
        ``None``: not sent.
    :param forwarded: Also send the chain as an RFC 7239 ``Forwarded`` header
        (a bool here; ProxyFix's ``forwarded`` is a hop count). Default
        ``False``.

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
        self.proxies = tuple(
            _checked_ip("proxies", proxy) for proxy in check_strings("proxies", proxies)
        )
        self.override = check_bool("override", override)
        self.forwarded = check_bool("forwarded", forwarded)
        if proto is not None:
            _check_text("proto", proto, "'http' or 'https'")
            if proto not in ("http", "https"):
                raise ValueError(f"proto: must be 'http' or 'https' or None, not {proto!r:.80}")
        self.proto = proto
        if host is not None:
            _check_text("host", host, _HOST)
            if valid_host(host) is None:
                raise ValueError(f"host: must be {_HOST} or None, not {host!r:.80}")
        self.host = host
        self.port = (
            None if port is None else check_int("port", port, minimum=1, maximum=65535, none=True)
        )
        if prefix is not None:
            _check_text("prefix", prefix, _PREFIX)
            if not valid_prefix(prefix):
                raise ValueError(f"prefix: must be {_PREFIX} or None, not {prefix!r:.80}")
        self.prefix = prefix

        chain = (self.real_ip, *self.proxies)
        headers = {X_FOR: ", ".join(chain)}
        for key, value in ((X_PROTO, proto), (X_HOST, host), (X_PREFIX, prefix)):
            if value is not None:
                headers[key] = ", ".join([value] * len(chain))
        if port is not None:
            headers[X_PORT] = ", ".join([str(port)] * len(chain))
        if forwarded:
            # An RFC 7239 node: IPv6 in brackets (and so quoted), IPv4 as a token.
            headers[FORWARDED] = ", ".join(
                format_element(
                    {"for": f"[{ip}]" if ":" in ip else ip, "proto": proto, "host": host}
                )
                for ip in chain
            )
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


_HOST = "a host name or IP literal with an optional port"
_PREFIX = "a clean absolute path like '/app'"


def _check_text(option: str, value: object, accepted: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{option}: must be {accepted} or None, not {value!r:.80}")


def _checked_ip(option: str, value: object) -> str:
    accepted = "a plain IPv4 or IPv6 address"
    if not isinstance(value, str):
        raise TypeError(f"{option}: must be {accepted}, not {value!r:.80}")
    if len(value) > MAX_NODE or client_address(value) != value:
        raise ValueError(f"{option}: must be {accepted}, not {value!r:.80}")
    return value
