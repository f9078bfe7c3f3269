"""Refuse requests for a host this application does not serve.

Use :class:`TrustedHosts` when the application builds absolute URLs from the
``Host`` header (password-reset links, redirects, canonical URLs, cache keys):
without it, anybody can send ``Host: evil.example`` and have those URLs point
elsewhere (host-header injection, cache poisoning). It is Django's
``ALLOWED_HOSTS`` and Starlette's ``TrustedHostMiddleware`` for any WSGI app.

Put it *after* (inside) :class:`~wsgikit.proxy.ProxyFix`, so that it checks the
host the client asked for rather than the proxy's, and inside
:class:`~wsgikit.errors.JSONErrors` if refusals should be ``problem+json``.
It is not needed when the front server (nginx ``server_name``, a load
balancer's host rules) already refuses unknown hosts -- but it is cheap.

Differences from Starlette's ``TrustedHostMiddleware`` and Django's
``ALLOWED_HOSTS``: ports can be part of a pattern (both ignore ports, and
Starlette's port split breaks IPv6 literals); a malformed ``Host`` is refused
even under ``*``; ``*.example.com`` does not match ``example.com`` (as
Starlette; Django's ``.example.com`` does); ``www_redirect`` is off by default
(Starlette: on) and answers ``308`` (Starlette: ``307``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._answer import plain_response, redirect
from ._host import ascii_host, default_port, parse_host, request_host, request_url
from ._http import log_safe
from ._options import check_bool, check_strings

logger = logging.getLogger("wsgikit.hosts")

# Verdicts are cached per Host value; a client can send any number of distinct
# values, so the cache is emptied when it is full.
_CACHE_SIZE = 512
_LOG_CHARS = 100


class TrustedHosts:
    """Answer ``400 Bad Request`` to a request whose host is not listed.

    - The host is ``Host`` (``HTTP_HOST``, as ProxyFix left it), else
      ``SERVER_NAME`` and ``SERVER_PORT``. It is compared case-insensitively,
      with one trailing dot dropped (``Example.COM.`` is ``example.com``), and
      IPv6 literals in their compressed form (``[0:0::1]`` is ``[::1]``).
    - A pattern is an exact name (``example.com``), a wildcard
      ``*.example.com`` -- which matches subdomains at any depth
      (``a.example.com``, ``a.b.example.com``) but **not** ``example.com``
      itself: list both when both are served --, an IPv4 address, an IPv6
      address (``[::1]`` or ``::1``), or ``*`` for any well-formed host.
    - A pattern without a port matches any port; with one (``example.com:8443``)
      it matches only that port, a request naming no port having the scheme's
      default (80 for http, 443 for https).
    - A malformed ``Host`` (a path, a user name, a bare IPv6 address, a port
      over 65535, non-ASCII) is refused even when ``*`` is listed.
    - Refusal: ``400`` with a short plain-text body (``problem+json`` when
      :class:`~wsgikit.errors.JSONErrors` is outside), logged at INFO on logger
      ``wsgikit.hosts`` with the host escaped and shortened.
    - ``www_redirect``: a request for ``example.com`` that is not listed, while
      ``www.example.com`` is listed exactly, is redirected there with ``308``
      (method and body kept; path and query string kept).

    Environ keys read: ``HTTP_HOST``, ``SERVER_NAME``, ``SERVER_PORT``,
    ``wsgi.url_scheme``. Nothing is written.

    :param app: The WSGI application to protect.
    :param hosts: The host patterns served: a list, or one str of patterns
        separated by commas or spaces.
    :param www_redirect: Redirect a bare domain to its listed ``www.`` form
        instead of refusing it. Off by default.

    .. code-block:: python

        app = ProxyFix(TrustedHosts(app, ["example.com", "*.example.com"]), x_host=1)
    """

    def __init__(
        self, app: WSGIApplication, hosts: Iterable[str], *, www_redirect: bool = False
    ) -> None:
        self.app = app
        self.hosts = check_strings("hosts", hosts)
        if not self.hosts:
            raise ValueError("hosts: must name at least one host (every request would be refused)")
        self.www_redirect = check_bool("www_redirect", www_redirect)
        self._any = False
        # host -> allowed port (None: any port)
        self._exact: dict[str, set[int | None]] = {}
        # (".example.com", port or None)
        self._suffixes: list[tuple[str, int | None]] = []
        for pattern in self.hosts:
            self._add(pattern)
        self._ports = any(
            port is not None for ports in self._exact.values() for port in ports
        ) or any(port is not None for _, port in self._suffixes)
        self._verdicts: dict[object, bool] = {}
        self._refuse = plain_response(
            "400 Bad Request",
            "400 Bad Request: the Host header names a host this server does not serve.\n",
        )

    def _add(self, pattern: object) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"hosts: each host must be a str, not {type(pattern).__name__}")
        text = pattern.strip()
        if text == "*":
            self._any = True
            return
        wildcard = text.startswith("*.")
        if wildcard:
            text = text[2:]
        if ":" in text and not text.startswith("["):
            with contextlib.suppress(ValueError):  # a bare IPv6 address, as users write it
                text = f"[{ipaddress.IPv6Address(text).compressed}]"
        try:
            parsed = parse_host(ascii_host(text))
        except ValueError as error:
            raise ValueError(f"hosts: {error}") from None
        if parsed is None or (wildcard and parsed[0].startswith("[")):
            raise ValueError(
                f"hosts: {pattern!r} is not a host pattern (use a name such as "
                "'example.com', a wildcard '*.example.com', an IP address, "
                "optionally with ':port', or '*')"
            )
        name, port = parsed
        if wildcard:
            self._suffixes.append(("." + name, port))
        else:
            self._exact.setdefault(name, set()).add(port)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("HTTP_HOST") or request_host(environ)
        key: object = raw if not self._ports else (raw, environ.get("wsgi.url_scheme"))
        allowed = self._verdicts.get(key)
        if allowed is None:
            allowed = self.allows(raw, str(environ.get("wsgi.url_scheme", "http")))
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[key] = allowed
        if allowed:
            app = self.app  # a local: cheaper than a method-call lookup of self.app
            return app(environ, start_response)
        return self._refused(raw, environ, start_response)

    def allows(self, host: str, scheme: str = "http") -> bool:
        """Whether a request for ``host`` (a ``Host`` value) over ``scheme`` is
        served. Never raises."""
        parsed = parse_host(host)
        if parsed is None:
            return False
        if self._any:
            return True
        name, port = parsed
        if port is None:
            port = default_port(scheme)
        ports = self._exact.get(name)
        if ports is not None and (None in ports or port in ports):
            return True
        return any(
            name.endswith(suffix) and (wanted is None or wanted == port)
            for suffix, wanted in self._suffixes
        )

    def _refused(
        self, raw: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        parsed = parse_host(raw)
        if self.www_redirect and parsed is not None and not parsed[0].startswith(("www.", "[")):
            name, port = parsed
            target = f"www.{name}"
            if target in self._exact and self.allows(
                target if port is None else f"{target}:{port}",
                str(environ.get("wsgi.url_scheme", "http")),
            ):
                netloc = target if port is None else f"{target}:{port}"
                scheme = str(environ.get("wsgi.url_scheme", "http"))
                return redirect(request_url(environ, scheme, netloc))(environ, start_response)
        logger.info(
            'refused a request for host "%s" from %s',
            log_safe(raw, _LOG_CHARS),
            environ.get("REMOTE_ADDR", "?"),
        )
        return self._refuse(environ, start_response)
