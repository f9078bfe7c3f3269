"""Security response headers with safe defaults, and an optional redirect to https.

Use :class:`SecurityHeaders` to give every response of any WSGI app the headers
a security scanner asks for first -- ``Strict-Transport-Security``,
``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` and, when
configured, ``Content-Security-Policy``, ``Permissions-Policy`` and
``Cross-Origin-Opener-Policy`` -- as Django's ``SecurityMiddleware`` does for
Django. A header the application set itself is left alone, so a page that needs
another policy sets its own.

Behind a proxy that terminates TLS, put it inside
:class:`~wsgikit.proxy.ProxyFix` (with ``x_proto``): HSTS and the redirect
look at ``wsgi.url_scheme`` as ProxyFix set it, and ``https_redirect`` without
it would redirect an https request forever. Do not turn on ``https_redirect``
where the front server already redirects; a CSP is best written per
application (``csp`` stays off unless given).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._answer import plain_response, redirect
from ._edit import EditFunction, intercept_headers
from ._host import parse_host, request_host, request_url
from ._http import log_safe
from ._options import check_bool, check_header_value
from ._types import Headers

logger = logging.getLogger("wsgikit.security")

_LOG_CHARS = 100
_HSTS_DEFAULT = "max-age=31536000; includeSubDomains"
# RFC 6797 section 6.1: directives separated by ";", max-age required.
_HSTS_MAX_AGE = re.compile(r'(?:^|;)\s*max-age\s*=\s*(?:[0-9]+|"[0-9]+")\s*(?:;|$)', re.IGNORECASE)
# https://www.w3.org/TR/referrer-policy/#referrer-policies
_REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
# https://html.spec.whatwg.org/multipage/browsers.html#cross-origin-opener-policies
_COOP_VALUES = frozenset(
    {"same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"}
)
_FRAME_OPTIONS = frozenset({"DENY", "SAMEORIGIN"})
# Header-name spellings remembered per SecurityHeaders (a few dozen in practice).
_SPELLINGS = 512


class SecurityHeaders:
    """Add security headers the application did not set; optionally redirect
    plain http to https.

    - Every header below is added to every response (errors included) unless
      the application already sent a header of that name (case-insensitive).
    - ``Strict-Transport-Security`` only on https responses (``wsgi.url_scheme``
      as ProxyFix decided): browsers ignore it over http (RFC 6797 section 8.1).
    - ``https_redirect``: a plain-http request of any method is answered with
      ``308 Permanent Redirect`` to the same URL over https (308 keeps the
      method and body, unlike 301/302). The host comes from ``Host`` and must be
      well formed, else ``400`` (no redirect to an attacker's string); its port
      is kept unless it is 80. A well-formed host you do not serve is
      redirected too, then refused over https by
      :class:`~wsgikit.hosts.TrustedHosts`, which goes inside.
    - Each value is checked at construction (known tokens where the header has
      a fixed vocabulary, no control characters anywhere); ``None`` or ``False``
      switches a header off.

    Environ keys read: ``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``,
    ``SERVER_PORT``, ``SCRIPT_NAME``, ``PATH_INFO``, ``QUERY_STRING``.

    :param app: The WSGI application.
    :param hsts: The ``Strict-Transport-Security`` value (must have a
        ``max-age``). Default: one year, subdomains included.
    :param content_type_options: Send ``X-Content-Type-Options: nosniff``.
        Default on.
    :param frame_options: ``X-Frame-Options``: ``"DENY"`` (default) or
        ``"SAMEORIGIN"``; for finer control use CSP ``frame-ancestors``.
    :param referrer_policy: ``Referrer-Policy``: a policy token, or a
        comma-separated fallback list. Default ``strict-origin-when-cross-origin``.
    :param csp: A ``Content-Security-Policy`` value. Off by default.
    :param permissions_policy: A ``Permissions-Policy`` value, such as
        ``"geolocation=(), camera=()"``. Off by default.
    :param coop: ``Cross-Origin-Opener-Policy``: ``same-origin``,
        ``same-origin-allow-popups``, ``noopener-allow-popups`` or
        ``unsafe-none``. Off by default.
    :param https_redirect: Answer plain-http requests with a 308 to https.
        Off by default.

    .. code-block:: python

        app = ProxyFix(SecurityHeaders(app, csp="default-src 'self'", https_redirect=True))
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        hsts: str | None | bool = _HSTS_DEFAULT,
        content_type_options: bool | None = True,
        frame_options: str | None | bool = "DENY",
        referrer_policy: str | None | bool = "strict-origin-when-cross-origin",
        csp: str | None | bool = None,
        permissions_policy: str | None | bool = None,
        coop: str | None | bool = None,
        https_redirect: bool = False,
    ) -> None:
        self.app = app
        self.hsts = _value("hsts", hsts)
        if self.hsts is not None and not _HSTS_MAX_AGE.search(self.hsts):
            raise ValueError(f"hsts: {self.hsts!r} has no max-age directive (RFC 6797)")
        if content_type_options not in (True, False, None):
            raise TypeError(
                f"content_type_options: must be True, False or None, not {content_type_options!r}"
            )
        self.content_type_options = bool(content_type_options)
        self.frame_options = _one_of(
            "frame_options",
            frame_options,
            _FRAME_OPTIONS,
            str.upper,
            "; ALLOW-FROM is obsolete: use csp frame-ancestors",
        )
        self.referrer_policy = _value("referrer_policy", referrer_policy)
        if self.referrer_policy is not None:
            tokens = [token.strip().lower() for token in self.referrer_policy.split(",")]
            unknown = [token for token in tokens if token not in _REFERRER_POLICIES]
            if unknown:
                raise ValueError(
                    f"referrer_policy: {unknown[0]!r} is not a referrer policy; use one of "
                    f"{', '.join(sorted(_REFERRER_POLICIES))}"
                )
            self.referrer_policy = ", ".join(tokens)
        self.csp = _value("csp", csp)
        self.permissions_policy = _value("permissions_policy", permissions_policy)
        self.coop = _one_of("coop", coop, _COOP_VALUES, str.lower)
        self.https_redirect = check_bool("https_redirect", https_redirect)

        common: Headers = []
        if self.content_type_options:
            common.append(("X-Content-Type-Options", "nosniff"))
        for name, value in (
            ("X-Frame-Options", self.frame_options),
            ("Referrer-Policy", self.referrer_policy),
            ("Content-Security-Policy", self.csp),
            ("Permissions-Policy", self.permissions_policy),
            ("Cross-Origin-Opener-Policy", self.coop),
        ):
            if value is not None:
                common.append((name, value))
        secure = [("Strict-Transport-Security", self.hsts)] if self.hsts else []
        # (lower-case name, header) pairs, for http and for https responses.
        self._plain = tuple((name.lower(), (name, value)) for name, value in common)
        self._secure = tuple((name.lower(), (name, value)) for name, value in [*secure, *common])
        self._plain_headers = tuple(header for _, header in self._plain)
        self._secure_headers = tuple(header for _, header in self._secure)
        self._edit = self._editor()
        self._bad_host = plain_response(
            "400 Bad Request",
            "400 Bad Request: the Host header is not valid, so there is no https URL "
            "to redirect to.\n",
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        secure = environ.get("wsgi.url_scheme") == "https"
        if not secure and self.https_redirect:
            return self._redirect(environ, start_response)
        app = self.app  # a local: cheaper than a method-call lookup of self.app
        if not (self._secure if secure else self._plain):
            return app(environ, start_response)
        return intercept_headers(app, environ, start_response, self._edit)

    def _editor(self) -> EditFunction:
        """The header edit, with its tables bound as locals: it runs for every
        response. It reads the scheme again, but a plain-http request with
        nothing to add never reaches it: ProxyFix goes outside this layer
        (the stack-order check warns otherwise)."""
        # Each header of ours is one bit; a response's headers are summed up
        # as the bits of the names it has (case-insensitive).
        bits = {lower: 1 << index for index, (lower, _) in enumerate(self._secure)}
        secure_table = tuple((bits[lower], header) for lower, header in self._secure)
        plain_table = tuple((bits[lower], header) for lower, header in self._plain)
        secure_all = sum(bit for bit, _ in secure_table)
        plain_all = sum(bit for bit, _ in plain_table)
        secure_headers, plain_headers = self._secure_headers, self._plain_headers
        lengths = frozenset(len(lower) for lower in bits)
        # The bit (0: not ours) of each header-name spelling seen, so that a
        # name is lowered once, not on every response; bounded, as an app
        # that proxies passes on whatever names its upstream chose.
        spellings: dict[str, int] = {}

        def edit(environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
            found = 0
            for name, _ in headers:
                # The length rules out most names (Content-Type,
                # Content-Length, Set-Cookie, ...) at the least cost.
                if len(name) in lengths:
                    bit = spellings.get(name)
                    if bit is None:
                        bit = bits.get(name.lower(), 0)
                        if len(spellings) < _SPELLINGS:
                            spellings[name] = bit
                    found |= bit
            secure = environ.get("wsgi.url_scheme") == "https"
            if not found:
                return [*headers, *(secure_headers if secure else plain_headers)]
            wanted = secure_all if secure else plain_all
            found &= wanted
            if found == wanted:  # the application set them all itself
                return headers
            table = secure_table if secure else plain_table
            return [*headers, *(header for bit, header in table if not found & bit)]

        return edit

    def _redirect(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = request_host(environ)
        parsed = parse_host(raw)
        if parsed is None:
            logger.info(
                'no https redirect for the invalid host "%s" from %s',
                log_safe(raw, _LOG_CHARS),
                environ.get("REMOTE_ADDR", "?"),
            )
            return self._bad_host(environ, start_response)
        host, port = parsed
        netloc = host if port is None or port == 80 else f"{host}:{port}"
        return redirect(request_url(environ, "https", netloc))(environ, start_response)


def _value(option: str, value: object) -> str | None:
    """A header value option: a non-empty str without control characters,
    or ``None``/``False`` for off."""
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise TypeError(
            f"{option}: must be header text, or None/False to switch it off, not {value!r}"
        )
    return check_header_value(option, value)


def _one_of(
    option: str,
    value: object,
    allowed: frozenset[str],
    normalise: Callable[[str], str],
    hint: str = "",
) -> str | None:
    """A header value option with a fixed vocabulary, compared (and sent) as
    ``normalise`` spells it; ``None``/``False`` for off, as :func:`_value`."""
    text = _value(option, value)
    if text is None:
        return None
    text = normalise(text)
    if text not in allowed:
        choices = ", ".join(repr(choice) for choice in sorted(allowed))
        raise ValueError(f"{option}: must be one of {choices} (or None), not {value!r}{hint}")
    return text
