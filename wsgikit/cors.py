"""Cross-origin resource sharing (CORS) for any WSGI application.

Use :class:`CORS` when JavaScript served from another origin (a single-page app
on ``https://app.example.com`` calling ``https://api.example.com``) must read
the application's responses. The middleware answers preflight requests itself
and decorates every other response, errors included, following the CORS
protocol of the Fetch standard (https://fetch.spec.whatwg.org/#http-cors-protocol).

Do not use it to *protect* anything: CORS only relaxes the browser's same-origin
policy. A request from a refused origin still reaches the application (the
browser merely hides the response from the page), and non-browser clients
ignore CORS entirely. Cookies sent cross-site (``allow_credentials=True``) need
CSRF protection all the same.

Put it outside the authentication layers and outside
:class:`~wsgikit.errors.JSONErrors`, so that their ``401``/``4xx``/``500``
answers carry the CORS headers too and the page can read them; an exception no
layer inside turned into a response reaches the server undecorated.

Differences from Starlette's ``CORSMiddleware`` and flask-cors, on purpose:

- Origins are compared exactly after normalising case and default ports (both
  are exact-string in Starlette; flask-cors compares case-insensitively and
  treats strings with regex characters as regexes matched at the start only).
  ``allow_origin_regex`` must match the whole origin (as Starlette's).
- ``*`` with ``allow_credentials`` is refused at construction (Starlette then
  mirrors the request's origin; flask-cors mirrors it too unless
  ``send_wildcard``; both therefore allow every site with cookies).
- ``Vary: Origin`` is sent on every response whose CORS headers depend on the
  origin -- also when the request had no ``Origin`` or a refused one, as the
  Fetch standard asks for shared caches (Starlette adds it only to allowed
  responses, flask-cors only when several origins are configured).
- With ``*``, ``Access-Control-Allow-Origin: *`` goes on every response, with or
  without an ``Origin`` (like flask-cors's ``always_send``; Starlette only
  answers requests that carry ``Origin``), so a cached response works for
  every page.
- A refused preflight gets ``403`` with a plain-text reason (Starlette: ``400``;
  flask-cors lets the application answer the ``OPTIONS`` without CORS headers).
  An allowed one gets ``204`` (Starlette ``200 OK``; flask-cors the app's
  ``OPTIONS`` response).
- The CORS-safelisted methods ``GET``, ``HEAD``, ``POST`` are always allowed in
  a preflight, as browsers never check them (Starlette refuses a method not in
  ``allow_methods``). Methods are case-sensitive as in Fetch (the six standard
  ones are upper-cased in the configuration); flask-cors upper-cases the request.
- The request headers ``Accept``, ``Accept-Language``, ``Content-Language`` and
  ``Content-Type`` are always allowed (as Starlette; flask-cors allows every
  header by default).
- CORS headers the application set itself are replaced by the middleware's:
  one policy per stack (flask-cors keeps the application's and adds its own).
- Private network access (``Access-Control-Request-Private-Network``): answered
  with ``Access-Control-Allow-Private-Network: true`` only when enabled;
  otherwise the header is simply absent (flask-cors sends ``false``; Starlette
  does not support it).
- ``null`` (sandboxed iframes, ``file:`` pages) is allowed only when listed
  (or with ``*``); ``allow_origin_regex`` never matches it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TypeAlias
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._answer import plain_response
from ._edit import EditFunction, intercept_headers
from ._host import ascii_host, default_port, parse_host
from ._http import TOKEN, log_safe, with_vary
from ._options import check_bool, check_int, check_strings, check_tokens
from ._types import Headers

logger = logging.getLogger("wsgikit.cors")

# (Access-Control-Allow-Origin value, or None when refused; the header edit
# for the response).
_Verdict: TypeAlias = tuple[str | None, EditFunction]

_CACHE_SIZE = 512
_LOG_CHARS = 100
_MAX_REQUEST_HEADERS = 4096
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
# RFC 9110 section 5.6.2: a token (method and header names).
# Fetch "normalize a method": these six are compared upper-cased.
_NORMALISED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
_SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
# Fetch "CORS-safelisted request-header" names: browsers list them in
# Access-Control-Request-Headers only for unusual values (JSON Content-Type).
_SAFELISTED_HEADERS = ("accept", "accept-language", "content-language", "content-type")
_PREFLIGHT_VARY = (
    "Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)


def parse_origin(value: str) -> str | None:
    """Normalise an ``Origin`` value: ``scheme://host[:port]`` lower-cased,
    default port dropped (``HTTPS://Example.com:443`` is
    ``https://example.com``); ``"null"`` for ``null``; ``None`` when it is not a
    serialised origin (a path, a user name, a trailing slash). Never raises."""
    if value == "null":
        return value
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    parsed = parse_host(rest, keep_dot=True)
    if parsed is None:
        return None
    host, port = parsed
    if port is None or port == default_port(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_header_names(value: str) -> list[str] | None:
    """The lower-case names of an ``Access-Control-Request-Headers`` value
    (empty items skipped); ``None`` when one is not a token or the value is
    unreasonably long. Never raises."""
    if len(value) > _MAX_REQUEST_HEADERS:
        return None
    names = []
    for item in value.split(","):
        name = item.strip()
        if not name:
            continue
        if not TOKEN.fullmatch(name):
            return None
        names.append(name.lower())
    return names


class CORS:
    """Answer CORS preflights and add CORS headers to every response.

    - **Preflight** (``OPTIONS`` with ``Origin`` and
      ``Access-Control-Request-Method``): answered here, never passed to the
      application. Allowed: ``204`` with ``Access-Control-Allow-Origin``,
      ``-Allow-Methods``, ``-Allow-Headers``, ``-Max-Age``,
      ``-Allow-Credentials`` and ``-Allow-Private-Network`` as configured.
      Refused (origin, method or a requested header not allowed): ``403`` with
      a plain-text reason, logged at INFO on logger ``wsgikit.cors``.
    - **Other requests** reach the application; when the origin is allowed the
      response -- whatever its status, including ``401``/``4xx``/``5xx`` from
      layers inside -- gets ``Access-Control-Allow-Origin`` (the request's
      origin, or ``*``), ``-Allow-Credentials`` and ``-Expose-Headers``. Any
      ``Access-Control-*`` header the application set is replaced.
    - ``Vary: Origin`` is added to every response whose CORS headers depend on
      the origin (that is, unless ``allow_origins`` is ``("*",)``), merged with
      the application's ``Vary``.
    - Origins are normalised (case, default port) and compared exactly:
      ``https://example.com.evil.net`` and ``http://example.com`` are not
      ``https://example.com``. A malformed ``Origin`` is refused.

    Environ keys read: ``REQUEST_METHOD``, ``HTTP_ORIGIN``,
    ``HTTP_ACCESS_CONTROL_REQUEST_METHOD``, ``HTTP_ACCESS_CONTROL_REQUEST_HEADERS``,
    ``HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK``. Nothing is written.

    :param app: The WSGI application.
    :param allow_origins: Origins allowed, as ``scheme://host[:port]``
        (``https://app.example.com``), ``"null"``, or ``("*",)`` for every
        origin. Empty by default: only ``allow_origin_regex`` allows.
    :param allow_origin_regex: A regular expression (``str`` or compiled) an
        origin must match *entirely*, after normalisation, such as
        ``r"https://[a-z0-9-]+\\.example\\.com"``.
    :param allow_methods: Methods allowed in preflights, or ``("*",)`` for any.
        ``GET``, ``HEAD`` and ``POST`` are always allowed.
    :param allow_headers: Request header names allowed in preflights (any
        case), or ``("*",)`` for any. ``Accept``, ``Accept-Language``,
        ``Content-Language`` and ``Content-Type`` are always allowed.
    :param expose_headers: Response header names the page may read besides the
        safelisted ones; ``("*",)`` for all (not with credentials).
    :param allow_credentials: Allow cookies and HTTP authentication
        (``Access-Control-Allow-Credentials: true``). Not with ``*`` origins.
    :param max_age: Seconds a browser may cache a preflight answer
        (``Access-Control-Max-Age``); ``None`` sends none. Browsers cap it
        (Chromium at 7200).
    :param allow_private_network: Allow requests from public sites to this
        private-network server (Private Network Access preflights).

    .. code-block:: python

        app = CORS(
            app,
            allow_origins=["https://app.example.com"],
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization"],
            allow_credentials=True,
        )
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        allow_origins: Iterable[str] = (),
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_methods: Iterable[str] = ("GET", "HEAD", "POST"),
        allow_headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        max_age: int | None = 600,
        allow_private_network: bool = False,
    ) -> None:
        self.app = app
        self.allow_credentials = check_bool("allow_credentials", allow_credentials)
        self.allow_private_network = check_bool("allow_private_network", allow_private_network)
        self.allow_origins = check_strings("allow_origins", allow_origins)
        self._any_origin = "*" in self.allow_origins
        if self._any_origin and len(self.allow_origins) > 1:
            raise ValueError("allow_origins: '*' allows every origin; list nothing else with it")
        if self._any_origin and self.allow_credentials:
            raise ValueError(
                "allow_origins=('*',) cannot be combined with allow_credentials=True: "
                "browsers refuse it, and mirroring every origin would let any site act "
                "with the user's cookies; list the origins instead"
            )
        self._origins = frozenset(_config_origin(entry) for entry in self.allow_origins)
        if isinstance(allow_origin_regex, str):
            try:
                allow_origin_regex = re.compile(allow_origin_regex)
            except re.error as error:
                raise ValueError(f"allow_origin_regex is not a valid regex: {error}") from None
        elif allow_origin_regex is not None and not isinstance(allow_origin_regex, re.Pattern):
            raise TypeError(
                f"allow_origin_regex: must be a str or a compiled pattern, not "
                f"{type(allow_origin_regex).__name__}"
            )
        self.allow_origin_regex = allow_origin_regex

        self.allow_methods = tuple(
            method.upper() if method.upper() in _NORMALISED_METHODS else method
            for method in check_tokens("allow_methods", allow_methods, wildcard=True)
        )
        self._any_method = "*" in self.allow_methods
        self._methods = frozenset(self.allow_methods) | _SAFELISTED_METHODS
        self.allow_headers = tuple(
            name.lower() for name in check_tokens("allow_headers", allow_headers, wildcard=True)
        )
        self._any_header = "*" in self.allow_headers
        self._headers = frozenset(self.allow_headers) | frozenset(_SAFELISTED_HEADERS)
        self.expose_headers = check_tokens("expose_headers", expose_headers, wildcard=True)
        if "*" in self.expose_headers and self.allow_credentials:
            raise ValueError(
                "expose_headers: '*' is not a wildcard for credentialed requests "
                "(Fetch standard); list the header names"
            )
        if max_age is not None:
            max_age = check_int("max_age", max_age, unit="seconds", none=True)
        self.max_age = max_age

        # Headers added to an allowed response, after Access-Control-Allow-Origin.
        extra: Headers = []
        if self.allow_credentials:
            extra.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            extra.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        self._extra = tuple(extra)
        self._allow_methods_value = ", ".join(
            dict.fromkeys(m for m in self.allow_methods if m != "*")
        )
        self._allow_headers_value = ", ".join(
            dict.fromkeys([*(h for h in self.allow_headers if h != "*"), *_SAFELISTED_HEADERS])
        )
        vary = _PREFLIGHT_VARY if self._any_origin else f"Origin, {_PREFLIGHT_VARY}"
        self._preflight_tail: Headers = [("Vary", vary)]
        if self.max_age is not None:
            self._preflight_tail.insert(0, ("Access-Control-Max-Age", str(self.max_age)))
        # Raw Origin value (None: no Origin) -> (Access-Control-Allow-Origin
        # value or None when refused, the header editor for the response).
        # Bounded: a client can send any number of distinct values.
        self._verdicts: dict[str, _Verdict] = {}
        # Response header-name spelling -> whether it is Vary or
        # Access-Control-* (the editors' test; bounded, as the names come
        # from the application, which may pass on an upstream's).
        self._spellings: dict[str, bool] = {}
        self._vary: Headers = [] if self._any_origin else [("Vary", "Origin")]
        self._refused: _Verdict = (None, self._editor(self._vary))
        self._wildcard: _Verdict = (
            "*",
            self._editor([("Access-Control-Allow-Origin", "*"), *self._extra]),
        )
        # (Origin, method, requested headers, private network) -> preflight answer.
        self._answers: dict[tuple[str, str, str, bool], tuple[str, Headers, str | None]] = {}
        # A request without Origin is not cross-origin: no verdict is looked up.
        self._no_origin = (self._wildcard if self._any_origin else self._refused)[1]

    # --- the request -----------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:  # not cross-origin: no verdict to look up (#11)
            return intercept_headers(self.app, environ, start_response, self._no_origin)
        if (
            "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ  # rare: checked first
            and environ.get("REQUEST_METHOD") == "OPTIONS"
        ):
            return self._preflight(environ, origin, start_response)
        # The origin's editor is made once and cached with its verdict.
        edit = (self._verdicts.get(origin) or self._verdict(origin))[1]
        return intercept_headers(self.app, environ, start_response, edit)

    def _editor(self, add: Headers) -> EditFunction:
        """The header edit adding ``add`` to a response (one per verdict)."""
        merge, spellings = self._merge, self._spellings

        def edit(environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
            for name, _ in headers:
                # Only Access-Control-* and Vary need a closer look (and a
                # merge); each spelling of a name is judged once.
                ours = spellings.get(name)
                if ours is None:
                    lower = name.lower()
                    ours = lower == "vary" or lower[:15] == "access-control-"
                    if len(spellings) < _CACHE_SIZE:
                        spellings[name] = ours
                if ours:
                    return merge(headers, add)
            return [*headers, *add]

        return edit

    def _merge(self, headers: Headers, add: Headers) -> Headers:
        """``headers`` with the application's ``Access-Control-*`` headers
        replaced by ``add`` and ``Origin`` merged into its ``Vary``."""
        kept = [item for item in headers if item[0][:15].lower() != "access-control-"]
        kept += [item for item in add if item[0] != "Vary"]
        return with_vary(kept, "Origin") if self._vary else kept

    def allowed_origin(self, origin: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request's ``Origin``
        (the origin itself, or ``*``), or ``None`` when it is refused."""
        verdict = self._verdicts.get(origin)
        return (verdict or self._verdict(origin))[0]

    def _verdict(self, origin: str) -> _Verdict:
        verdict = self._wildcard if self._any_origin else self._judged(origin)
        verdicts = self._verdicts
        if len(verdicts) >= _CACHE_SIZE:
            verdicts.clear()
        verdicts[origin] = verdict
        return verdict

    def _judged(self, origin: str) -> _Verdict:
        normal = parse_origin(origin)
        if normal is not None and (
            normal in self._origins
            or (
                normal != "null"
                and self.allow_origin_regex is not None
                and self.allow_origin_regex.fullmatch(normal) is not None
            )
        ):
            # Echo what the browser sent: it compares byte for byte with its
            # own serialisation, and it is a validated origin (safe to send).
            add = [("Access-Control-Allow-Origin", origin), *self._extra, *self._vary]
            return origin, self._editor(add)
        return self._refused

    # --- preflight ---------------------------------------------------------------

    def _preflight(
        self, environ: WSGIEnvironment, origin: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = str(environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"])
        requested = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))
        private = environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK") == "true"
        # A page repeats the same few preflights: answers are cached (bounded).
        key = (origin, method, requested, private)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answer(origin, method, requested, private)
            if len(self._answers) >= _CACHE_SIZE:
                self._answers.clear()
            self._answers[key] = answer
        status, headers, reason = answer
        if reason is not None:
            logger.info(
                'refused a CORS preflight from origin "%s" for "%s" (%s)',
                log_safe(origin, _LOG_CHARS),
                log_safe(method, _LOG_CHARS),
                reason,
            )
            return plain_response(
                status, f"{status}: CORS preflight refused ({reason}).\n", headers
            )(environ, start_response)
        start_response(status, list(headers))
        return []

    def _answer(
        self, origin: str, method: str, requested: str, private: bool
    ) -> tuple[str, Headers, str | None]:
        """The status, headers and refusal reason (``None``: allowed) of a preflight."""
        allowed = self.allowed_origin(origin)
        names = parse_header_names(requested)
        if allowed is None:
            reason = "origin not allowed"
        elif not TOKEN.fullmatch(method):
            reason = "invalid Access-Control-Request-Method"
        elif not self._any_method and method not in self._methods:
            reason = "method not allowed"
        elif names is None:
            reason = "invalid Access-Control-Request-Headers"
        elif not self._any_header and any(name not in self._headers for name in names):
            reason = "header not allowed"
        else:
            reason = None
        if reason is not None or allowed is None or names is None:
            return "403 Forbidden", [self._preflight_tail[-1]], reason
        headers: Headers = [("Access-Control-Allow-Origin", allowed)]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        # A wildcard is answered with what was asked: "*" is no wildcard for
        # credentialed requests, and never covers Authorization (Fetch).
        methods = method if self._any_method else self._allow_methods_value
        headers.append(("Access-Control-Allow-Methods", methods))
        allow_headers = ", ".join(names) if self._any_header else self._allow_headers_value
        if allow_headers:
            headers.append(("Access-Control-Allow-Headers", allow_headers))
        if self.allow_private_network and private:
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        headers += self._preflight_tail
        return "204 No Content", headers, None


def _config_origin(entry: str) -> str:
    if entry == "*":
        return entry
    scheme, sep, rest = entry.partition("://")
    try:
        normal = parse_origin(f"{scheme}{sep}{ascii_host(rest)}" if sep else entry)
    except ValueError as error:
        raise ValueError(f"allow_origins: {error}") from None
    if normal is None:
        hint = " (no trailing slash or path)" if sep and "/" in rest else ""
        raise ValueError(
            f"allow_origins: {entry!r} is not an origin; write scheme://host[:port]{hint}, "
            "such as 'https://app.example.com', or 'null', or '*'"
        )
    return normal
