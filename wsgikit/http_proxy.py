"""A forwarding HTTP proxy as a WSGI application, for test and development set-ups.

:class:`HTTPProxy` sends every request it gets to one upstream server (an
``http://`` or ``https://`` URL, with an optional path prefix) and streams the
answer back. Because it is a WSGI application, every wsgikit middleware
composes in front of it: put :class:`~wsgikit.proxy.FakeForwardedFor` before it
and the upstream believes it sits behind a chain of proxies, add
:class:`~wsgikit.errors.JSONErrors`, :class:`~wsgikit.compress.Compress` or the
auth layers and the upstream is tested behind them, whatever language it is
written in. ``wsgikit proxy UPSTREAM`` serves such a stack on waitress.

What it does, as a careful reverse proxy would (nginx's ``proxy_pass`` with
``proxy_redirect default``):

- Pooled keep-alive connections (urllib3) and streaming both ways with bounded
  memory: the request body is read from ``wsgi.input`` in chunks (sent chunked
  when its length is unknown), the response body is passed on as it arrives.
- Hop-by-hop headers (RFC 9110 §7.6.1, and every header named in
  ``Connection``) are removed in both directions.
- ``X-Forwarded-*`` and ``Forwarded`` headers are passed on exactly as
  received: the proxy adds none itself, so what the upstream sees is what the
  layers in front of it (``FakeForwardedFor``) or the client made up.
- Redirects are passed to the client, never followed. ``Location``,
  ``Content-Location`` and the ``Domain``/``Path`` of ``Set-Cookie`` are
  rewritten from the upstream's view to the client's.
- An upstream that refuses the connection or cannot be reached gives
  ``502 Bad Gateway``, one that does not answer in time ``504 Gateway
  Timeout``, with a short plain-text body and a log line; never a traceback.

When *not* to use it: this is not a production reverse proxy. It has no
protection against slow clients, no caching, no load balancing and no WebSocket
(``Upgrade``) support; put nginx, HAProxy or Caddy in front of production apps.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import urllib.parse
import warnings
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from wsgiref.types import StartResponse, WSGIEnvironment

from ._answer import plain_response
from ._http import LOG_CHARS, log_safe
from ._options import check_bool, check_int, check_seconds
from ._proxy_headers import (
    DEFAULT_PORTS,
    client_cookie,
    client_url,
    request_headers,
    response_headers,
)
from ._proxy_headers import HOP_BY_HOP as HOP_BY_HOP

if TYPE_CHECKING:
    import ssl

    import urllib3

logger = logging.getLogger("wsgikit.http_proxy")

#: Bytes read per step, from the client and from the upstream.
CHUNK_SIZE = 64 * 1024

_UNSAFE_IN_QUERY = re.compile(r"[^\x21-\x7e]")
# Digits of the largest Content-Length taken as a number (no body is near 10**30).
_LENGTH_DIGITS = 30


class HTTPProxy:
    """Forward every request to ``upstream`` and stream the answer back.

    - The request path is ``upstream``'s path prefix followed by
      ``PATH_INFO`` (so a proxy mounted under ``SCRIPT_NAME`` strips its mount
      point), then the query string unchanged. ``PATH_INFO`` is re-quoted, so
      an encoded ``%2F`` reaches the upstream as ``/`` (the WSGI environ keeps
      no raw path).
    - ``Host`` is the upstream's, unless ``preserve_host``.
    - Request and response headers lose their hop-by-hop headers; everything
      else, ``X-Forwarded-*`` included, is passed on as it is.
    - Upstream refused, unreachable, TLS failure or a broken answer: ``502``;
      no connection or no answer within ``timeout``: ``504``. A failure after
      the response started is logged and re-raised, so the server drops the
      connection and the client sees a truncated body, not a complete one.
    - A request that cannot be forwarded gets ``400``: an invalid
      ``Content-Length``, a body the client does not deliver, a header value
      that cannot be sent. Every outcome of the proxy's own is logged on
      ``wsgikit.http_proxy`` (client text escaped).
    - The upstream connection goes back to the pool when the body was read to
      the end; when the server closes the response early (client gone) the
      connection is closed and its pool slot freed.

    Environ keys read: the CGI/WSGI request keys, ``HTTP_*`` and
    ``wsgi.input_terminated``. None written.

    :param upstream: Where to forward: ``http://host[:port][/prefix]`` or
        ``https://...``. No query, fragment or credentials.
    :param preserve_host: Send the client's ``Host`` header instead of the
        upstream's host, as nginx's ``proxy_set_header Host $host`` does.
    :param timeout: Seconds (a positive number) to wait for the connection and
        for each read from the upstream. 30 by default.
    :param pool_size: How many idle keep-alive connections to the upstream
        are kept (1 or more; 10 by default). More concurrent requests open
        extra connections, closed after use.
    :param trust_env: Use the ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``
        environment variables to reach the upstream through an outgoing proxy.
        Off by default, so a developer's proxy settings do not capture
        requests to ``localhost``.
    :param rewrite_location: Rewrite ``Location`` and ``Content-Location``
        values that point into the upstream (its origin and path prefix, or
        with ``preserve_host`` the client's host under that prefix) to the
        client's origin and ``SCRIPT_NAME``. On by default; relative
        references that do not start with ``/`` are left alone.
    :param rewrite_cookies: Drop a ``Set-Cookie`` ``Domain`` that names the
        upstream's host (the cookie then belongs to the host the client used)
        and move a ``Path`` under the upstream's prefix to ``SCRIPT_NAME``. On
        by default.
    :param verify: For ``https`` upstreams: check the certificate (``True``,
        the default), do not (``False``, for self-signed test servers: logged
        once at construction), or
        check it against the CA bundle file at this path (read once, here: a
        missing or unreadable file is a :exc:`ValueError`). Unverified, urllib3's
        per-request ``InsecureRequestWarning`` is suppressed for this proxy's
        own connections only; the process-wide warning filters are not changed.

    .. code-block:: python

        from wsgikit import FakeForwardedFor, HTTPProxy, JSONErrors

        app = HTTPProxy("http://127.0.0.1:3000/api", timeout=10.0)
        app = JSONErrors(FakeForwardedFor(app, real_ip="203.0.113.7", proto="https"))
    """

    def __init__(
        self,
        upstream: str,
        *,
        preserve_host: bool = False,
        timeout: float = 30.0,
        pool_size: int = 10,
        trust_env: bool = False,
        rewrite_location: bool = True,
        rewrite_cookies: bool = True,
        verify: bool | str = True,
    ) -> None:
        self.upstream = upstream
        self._scheme, self._netloc, self._hostname, self._port, self._prefix = _parse_upstream(
            upstream
        )
        self.preserve_host = check_bool("preserve_host", preserve_host)
        self.trust_env = check_bool("trust_env", trust_env)
        self.rewrite_location = check_bool("rewrite_location", rewrite_location)
        self.rewrite_cookies = check_bool("rewrite_cookies", rewrite_cookies)
        self.timeout = check_seconds("timeout", timeout, positive=True)
        self.pool_size = check_int("pool_size", pool_size, minimum=1)
        if not isinstance(verify, bool | str):
            raise TypeError(
                f"verify must be a bool or a CA bundle path, not {type(verify).__name__}"
            )
        self.verify = verify
        # Read once, here, so a wrong path is an error now, not a 502 per request.
        self._ssl_context = (
            _ca_context(verify) if isinstance(verify, str) and self._scheme == "https" else None
        )
        # Through an outgoing proxy, plain-http requests carry the absolute
        # URL (RFC 9112 §3.2.2); https ones go through a CONNECT tunnel.
        self._origin = ""
        #: The urllib3 connection pool to the upstream (or to the outgoing proxy).
        self.pool: urllib3.HTTPConnectionPool = self._make_pool()

    def _make_pool(self) -> urllib3.HTTPConnectionPool:
        try:
            import urllib3
        except ImportError:
            raise ImportError("HTTPProxy needs urllib3: pip install 'wsgikit[proxy]'") from None

        options: dict[str, Any] = {
            "maxsize": self.pool_size,
            # Redirects and retries are the client's business: a proxy that
            # retried a POST could run it twice.
            "retries": False,
            "timeout": urllib3.Timeout(connect=self.timeout, read=self.timeout),
        }
        if self._scheme == "https":
            if self.verify is False:
                options["cert_reqs"] = "CERT_NONE"
                # Asked for: warn once here, not on every request as urllib3
                # would (the pool class below silences it for its own
                # connections; a global filter would hide other code's too).
                logger.warning("certificates of %s are not verified", self.upstream)
            elif self._ssl_context is not None:
                options["ssl_context"] = self._ssl_context
        if self.trust_env:
            import urllib.request  # only here: it pulls in http.client, email, ssl

            outgoing = urllib.request.getproxies().get(self._scheme)
            if outgoing and not urllib.request.proxy_bypass(self._hostname):
                manager = urllib3.ProxyManager(outgoing, num_pools=1, **options)
                if self.verify is False:
                    manager.pool_classes_by_scheme = {
                        **manager.pool_classes_by_scheme,
                        "https": _unverified_pool_class(),
                    }
                pool: urllib3.HTTPConnectionPool = manager.connection_from_url(self.upstream)
                if self._scheme == "http":
                    self._origin = f"http://{self._netloc}"
                return pool
        pool_class: type[urllib3.HTTPConnectionPool] = urllib3.HTTPConnectionPool
        if self._scheme == "https":
            pool_class = (
                _unverified_pool_class() if self.verify is False else urllib3.HTTPSConnectionPool
            )
        return pool_class(self._hostname, self._port, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.upstream!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

        method = environ["REQUEST_METHOD"]
        target = self._target(environ)
        # For log lines: client text, escaped and capped once here.
        what = log_safe(f"{method} {target}", LOG_CHARS)
        body = _RequestBody(environ)
        if body.invalid_length:
            logger.info(
                "invalid Content-Length %s from %s",
                log_safe(body.invalid_length, LOG_CHARS),
                _peer(environ),
            )
            return _answer(
                environ, start_response, 400, "The request has an invalid Content-Length."
            )
        if body.failed():
            logger.info("%s: reading the request body failed: %r", what, body.error)
            return _answer(environ, start_response, 400, "The request body could not be read.")
        headers = self._request_headers(environ)
        if body.length is not None:
            headers["Content-Length"] = str(body.length)
        try:
            response = self.pool.urlopen(
                method,
                target,
                body=body if body.length or body.chunked else None,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                chunked=body.chunked,
            )
        except Exception as error:
            if body.failed():  # while urllib3 was sending it
                logger.info("%s: reading the request body failed: %r", what, body.error)
                return _answer(environ, start_response, 400, "The request body could not be read.")
            # urllib3 makes a refused connection a kind of connect timeout.
            if isinstance(error, TimeoutError) and not isinstance(error, NewConnectionError):
                logger.warning("%s: %s timed out: %s", what, self.upstream, error)
                return _answer(
                    environ, start_response, 504, "The upstream server did not answer in time."
                )
            if isinstance(error, HTTPError | OSError):
                logger.warning("%s: %s failed: %s", what, self.upstream, error)
                return _answer(
                    environ, start_response, 502, "The upstream server could not be reached."
                )
            if isinstance(error, ValueError | http.client.HTTPException):
                # http.client refuses to send it (a header value with a bare
                # line break or beyond latin-1, set by some layer in front).
                logger.info("%s cannot be forwarded: %s", what, log_safe(repr(error), LOG_CHARS))
                return _answer(environ, start_response, 400, "The request cannot be forwarded.")
            raise
        try:
            status = _status_line(response.status, response.reason)
            start_response(status, self._response_headers(response, environ))
        except BaseException:
            _release(response, whole=False)
            raise
        return _UpstreamBody(response, what)

    def _target(self, environ: WSGIEnvironment) -> str:
        path = _raw(environ.get("PATH_INFO", ""))
        quoted = urllib.parse.quote(path, safe="/:@!$&'()*+,;=~")
        target = self._prefix + quoted if quoted.startswith("/") else f"{self._prefix}/{quoted}"
        # The query goes on as sent, except for bytes a request line cannot
        # carry (http.client refuses them): those are percent-encoded.
        query = _UNSAFE_IN_QUERY.sub(_percent, environ.get("QUERY_STRING", ""))
        return self._origin + (f"{target}?{query}" if query else target)

    def _request_headers(self, environ: WSGIEnvironment) -> dict[str, str]:
        host = environ.get("HTTP_HOST") if self.preserve_host else None
        return request_headers(environ, host or self._netloc)

    def _response_headers(
        self, response: urllib3.BaseHTTPResponse, environ: WSGIEnvironment
    ) -> list[tuple[str, str]]:
        return response_headers(
            response.status,
            response.headers.items(),
            environ,
            location=self._client_url if self.rewrite_location else None,
            cookie=self._client_cookie if self.rewrite_cookies else None,
        )

    def _client_url(self, value: str, environ: WSGIEnvironment) -> str:
        """``value`` (a URL the upstream sent) as the client should see it."""
        return client_url(
            value, environ, (self._hostname, self._port), self._prefix, self.preserve_host
        )

    def _client_cookie(self, value: str, environ: WSGIEnvironment) -> str:
        """A ``Set-Cookie`` value with the upstream's domain and prefix taken out."""
        return client_cookie(value, environ, self._hostname, self._prefix)


class _RequestBody:
    """The request body from ``wsgi.input``, read in chunks as urllib3 sends it.

    With a ``Content-Length`` exactly that many bytes are read; without one,
    when the server says the input ends by itself (``wsgi.input_terminated``,
    e.g. a chunked upload), it is read to the end and sent chunked.
    """

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.stream = environ["wsgi.input"]
        self.length: int | None = None
        self.chunked = False
        self.invalid_length: str | None = None
        self.error: BaseException | None = None
        self._first = b""
        declared = environ.get("CONTENT_LENGTH", "").strip()
        if declared:
            # Compared by length first: int() refuses more than 4300 digits,
            # and no body that large can be sent anyway.
            digits = declared.lstrip("0")
            if declared.isdigit() and declared.isascii() and len(digits) <= _LENGTH_DIGITS:
                self.length = int(digits or "0")
            else:
                self.invalid_length = declared
        elif environ.get("wsgi.input_terminated"):
            # A GET without a body also has no length: look before promising
            # the upstream a chunked body.
            with contextlib.suppress(Exception):  # kept in self.error
                self._first = self._read(CHUNK_SIZE)
            self.chunked = bool(self._first)

    def failed(self) -> bool:
        """Whether reading ``wsgi.input`` failed (the client went away or sent too little)."""
        return self.error is not None

    def _read(self, size: int) -> bytes:
        try:
            return bytes(self.stream.read(size))
        except Exception as error:
            self.error = error
            raise

    def __iter__(self) -> Iterator[bytes]:
        if self.chunked:
            chunk = self._first
            while chunk:
                yield chunk
                chunk = self._read(CHUNK_SIZE)
            return
        remaining = self.length or 0
        while remaining > 0:
            chunk = self._read(min(remaining, CHUNK_SIZE))
            if not chunk:
                self.error = EOFError(f"the client sent {remaining} bytes less than declared")
                raise self.error
            remaining -= len(chunk)
            yield chunk


class _UpstreamBody:
    """The upstream's response body as a WSGI iterable that always frees the
    connection: back to the pool when read to the end, closed otherwise."""

    def __init__(self, response: urllib3.BaseHTTPResponse, what: str) -> None:
        self.response = response
        self.what = what
        self._finished = False

    def __iter__(self) -> Iterator[bytes]:
        from urllib3.exceptions import HTTPError

        try:
            while True:
                # read1: whatever arrived, up to CHUNK_SIZE, so a slow
                # upstream's first bytes are passed on without waiting for more.
                chunk = self.response.read1(CHUNK_SIZE, decode_content=False)
                if not chunk:
                    break
                yield chunk
        except (HTTPError, OSError) as error:
            logger.error("%s: the upstream response broke off: %s", self.what, error)
            raise
        self._finished = True

    def close(self) -> None:
        _release(self.response, whole=self._finished)


def _release(response: urllib3.BaseHTTPResponse, *, whole: bool) -> None:
    """Give the connection back; unless the body was read to its end, close
    it first, since unread bytes would corrupt the next request on it."""
    if not whole:
        response.close()
    response.release_conn()


def _raw(text: str) -> bytes:
    """A PEP 3333 string as the bytes it stands for (UTF-8 if a layer put in
    characters beyond latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in _raw(match.group()))


def _answer(
    environ: WSGIEnvironment, start_response: StartResponse, code: int, message: str
) -> Iterable[bytes]:
    """A plain-text error of the proxy itself (no body for ``HEAD``)."""
    status = f"{code} {HTTPStatus(code).phrase}"
    text = f"{status}\n\n{message}\n"
    return plain_response(status, text, no_store=False)(environ, start_response)


def _ca_context(path: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA bundle at ``path``, built once."""
    import ssl

    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"verify: cannot load the CA bundle {path!r}: {error}") from None


def _unverified_pool_class() -> type[urllib3.HTTPSConnectionPool]:
    """An HTTPS pool that does not warn on each request that it does not verify
    (``verify=False`` was asked for, and logged once). The warning is silenced
    only while this pool checks its own connection."""
    import urllib3

    class UnverifiedHTTPSPool(urllib3.HTTPSConnectionPool):
        def _validate_conn(self, conn: Any) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                super()._validate_conn(conn)

    return UnverifiedHTTPSPool


def _status_line(code: int, reason: str | None) -> str:
    if not reason or not reason.isprintable():
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Unknown"
    return f"{code} {reason}"


def _parse_upstream(upstream: str) -> tuple[str, str, str, int, str]:
    """(scheme, netloc for Host, hostname, port, path prefix without trailing /)."""
    if not isinstance(upstream, str):
        raise TypeError(f"upstream must be a URL string, not {type(upstream).__name__}")
    try:
        url = urllib.parse.urlsplit(upstream.strip())
        port = url.port
    except ValueError as error:
        raise ValueError(f"upstream is not a valid URL: {upstream!r} ({error})") from None
    scheme = url.scheme.lower()
    if scheme not in DEFAULT_PORTS or not url.hostname:
        raise ValueError(f"upstream must be an http:// or https:// URL with a host: {upstream!r}")
    if url.query or url.fragment or url.username is not None:
        raise ValueError(f"upstream must not have a query, fragment or credentials: {upstream!r}")
    port = port or DEFAULT_PORTS[scheme]
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    netloc = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return scheme, netloc, url.hostname, port, url.path.rstrip("/")


def _peer(environ: WSGIEnvironment) -> str:
    return str(environ.get("REMOTE_ADDR", "?"))
