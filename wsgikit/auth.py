"""Authorization: parse the ``Authorization`` header, or enforce HTTP Basic
(RFC 7617) or Bearer (RFC 6750) authentication in front of any WSGI app.

- :func:`parse_authorization` and :class:`AuthParser` only parse the header
  (into an :class:`Authorization`, at ``environ["wsgikit.auth"]``) for an app
  that checks credentials itself. They never raise.
- :class:`BasicAuth` lets a request through only with a user name and
  password that match a bcrypt or ``{SHA}`` hash (a mapping or an Apache
  htpasswd file; the hashes live in ``wsgikit._passwords``) or that your
  ``verify`` accepts. :class:`BearerAuth` does the same for bearer tokens.

Use them for an internal tool, a staging site, an admin back-office or a
machine-to-machine API that needs one gate in front of the whole app,
whatever the framework.

When *not* to use them: Basic credentials travel with every request in clear
text (base64 is not encryption), so serve them over HTTPS only. There is no
logout, no session, no per-view permission and no rate limiting of failed
logins (put that in the proxy); an app with real user accounts wants its
framework's login system. ``{SHA}`` hashes are unsalted SHA-1 and only exist
for old htpasswd files: prefer bcrypt (``htpasswd -B``).

Environ keys written: ``wsgikit.auth`` (:class:`AuthParser`),
``REMOTE_USER``, ``AUTH_TYPE`` and ``wsgikit.principal`` (:class:`BasicAuth`
and :class:`BearerAuth`, on success).

The header parser's parts (scheme splitting, Basic decoding, other schemes)
live in ``wsgikit._authorization``. :class:`Authorization` is defined there
and re-exported here: its fast constructor reads the class's slots at import
time, so the two must share a module, and defining the class here would make
an import cycle.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.http import quote_header_value

from . import _passwords
from ._answer import plain_response
from ._authorization import TOKEN68_FULL as _TOKEN68_FULL
from ._authorization import TOKEN68_RE as _TOKEN68_RE
from ._authorization import Authorization as Authorization
from ._authorization import basic_authorization as _basic_authorization
from ._authorization import decode_basic as _decode_basic
from ._authorization import other_scheme as _other_scheme
from ._authorization import split_scheme as _scheme
from ._http import log_safe
from ._options import check_items, check_strings
from ._passwords import LOG_CHARS as _LOG_CHARS
from ._passwords import kind_of as _kind
from ._passwords import quoted as _shorten

logger = logging.getLogger("wsgikit.auth")

#: Environ key of the parsed ``Authorization`` header (:class:`AuthParser`).
AUTH_KEY = "wsgikit.auth"
#: Environ key of the authenticated principal (:class:`BasicAuth`: the user
#: name; :class:`BearerAuth`: what ``verify`` returned).
PRINCIPAL_KEY = "wsgikit.principal"
#: Longest ``Authorization`` value parsed, in characters; longer ones are
#: treated as malformed. Common server limits for one header line are 8 KiB
#: (nginx, Apache), so a legitimate value is never longer.
MAX_LENGTH = 8192

# A dot segment or backslash makes a path ambiguous: never exempt it.
_UNSAFE_PATH_RE = re.compile(r"/\.\.?(?:/|$)|\\")
_REALM_RE = re.compile(r"[\x20-\x7e]{1,200}")
_REALM_WORDS = "a str of 1 to 200 printable ASCII characters (no control characters, CR or LF)"


def parse_authorization(value: object) -> Authorization | None:
    """Parse an ``Authorization`` header value; ``None`` if absent or malformed.

    - ``Basic``: ``username`` and ``password`` from padded base64, decoded as
      UTF-8 (ISO-8859-1 when it is not UTF-8); no colon, or a control
      character, gives ``None``.
    - ``Bearer``: ``token``, one token68 (RFC 6750 section 2.1).
    - Other schemes: a token68 ``token``, or ``params`` (names lower-cased);
      a scheme alone gives ``None``.

    It never raises: anything that is not a ``str``, or is longer than
    :data:`MAX_LENGTH`, gives ``None``.

    :param value: The header value, as in ``environ["HTTP_AUTHORIZATION"]``.
    """
    if not isinstance(value, str) or len(value) > MAX_LENGTH:
        return None
    if value[:6] == "Basic ":
        # The usual header, decoded without splitting it (_scheme). Strict
        # base64 refuses any blank, so what it decodes is what the general
        # path below gives; a value it does not decode goes there.
        credentials = _decode_basic(value[6:])
        if credentials is not None:
            return _basic_authorization(credentials)
    scheme, rest = _scheme(value)
    if scheme == "basic":
        credentials = _decode_basic(rest)
        return None if credentials is None else _basic_authorization(credentials)
    if scheme == "bearer":
        # RFC 6750 section 2.1: one token68, no parameters.
        return Authorization("bearer", token=rest) if _TOKEN68_RE.fullmatch(rest) else None
    return _other_scheme(scheme, value) if scheme else None


class AuthParser:
    """Put the parsed ``Authorization`` header at ``environ["wsgikit.auth"]``.

    - The value is what :func:`parse_authorization` returns: an
      :class:`Authorization`, or ``None`` when the header is absent or
      malformed. Nothing is enforced; the request always goes on.

    Environ keys read: ``HTTP_AUTHORIZATION``. Written: ``wsgikit.auth``.

    :param app: The WSGI application to wrap.

    .. code-block:: python

        from wsgikit import AuthParser

        app = AuthParser(app)
        # in the app:
        auth = environ["wsgikit.auth"]
        if auth is not None and auth.scheme == "bearer": ...
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        value = environ.get("HTTP_AUTHORIZATION")
        # Most requests of most apps carry no header: no call for them.
        environ[AUTH_KEY] = None if value is None else parse_authorization(value)
        return self.app(environ, start_response)


class BasicAuth:
    """Require HTTP Basic credentials (RFC 7617) for every request.

    - Credentials come from exactly one of ``users``, ``htpasswd`` or
      ``verify``. Hashes are bcrypt (needs ``wsgikit[bcrypt]``) or ``{SHA}``;
      any other format is a ``ValueError`` at construction.
    - Passwords are compared in constant time; an unknown user is checked
      against a stand-in hash so that timing hides who exists.
    - An htpasswd file is reloaded when it changes, failing closed: a bad
      line refuses its user, an unreadable file refuses everyone.
    - Failure (no or bad credentials, unknown user, wrong password): ``401``
      with ``WWW-Authenticate: Basic realm="...", charset="UTF-8"``, made
      here without calling the app, logged on ``wsgikit.auth`` (never the
      password). An exception from ``verify`` propagates.
    - Exempt paths pass straight through, matched on segment boundaries.

    Environ keys read: ``HTTP_AUTHORIZATION``, ``PATH_INFO``,
    ``REQUEST_METHOD``. Written on success: ``REMOTE_USER`` (PEP 3333
    string), ``AUTH_TYPE`` (``"Basic"``), ``wsgikit.principal`` (the user
    name).

    :param app: The WSGI application to wrap.
    :param users: A mapping of user name to password hash (bcrypt or
        ``{SHA}``).
    :param verify: A callable ``verify(username, password)``; access only when
        it returns ``True`` (a truthy value refuses, with one WARNING).
    :param htpasswd: The path of an Apache htpasswd file (bcrypt and
        ``{SHA}`` lines).
    :param realm: The realm sent in the challenge: 1 to 200 printable ASCII
        characters. Default ``"Restricted"``.
    :param exempt: Path prefixes of ``PATH_INFO`` that need no credentials
        (a list, or one str separated by commas or spaces), each starting
        with ``/`` (``/`` alone is refused).
        Default: none.
    :param reload_interval: Seconds between checks of the htpasswd file for
        changes; ``None`` never reloads. Default 1.
    :param cache_ttl: Seconds a successful bcrypt check is remembered; 0
        turns the cache off. Default 60.
    :param cache_size: How many successful bcrypt checks are remembered at
        most; 0 turns the cache off. Default 1024.

    .. code-block:: python

        from wsgikit import BasicAuth

        app = BasicAuth(app, htpasswd="/etc/myapp/htpasswd", exempt=["/health"])
        # or
        app = BasicAuth(app, users={"admin": "$2b$12$..."}, realm="Back office")
        # or
        app = BasicAuth(app, verify=lambda user, password: ldap_bind(user, password))
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        users: Mapping[str, str] | None = None,
        verify: Callable[[str, str], bool] | None = None,
        htpasswd: str | os.PathLike[str] | None = None,
        realm: str = "Restricted",
        exempt: str | Iterable[str] = (),
        reload_interval: float | None = 1.0,
        cache_ttl: float = 60.0,
        cache_size: int = 1024,
    ) -> None:
        self.app = app
        given = [
            name
            for name, option in (("users", users), ("verify", verify), ("htpasswd", htpasswd))
            if option is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "BasicAuth needs exactly one of users, verify or htpasswd"
                + (f" (got {', '.join(given)})" if given else "")
            )
        self.users: dict[str, str] | None = None
        self.verify = verify
        self.htpasswd: str | None = None
        table: dict[str, _passwords.Hash] = {}
        stamp: _passwords.Stamp | None = None
        if users is not None:
            self.users, table = _passwords.users_table(users)
        elif htpasswd is not None:
            self.htpasswd, stamp, table = _passwords.htpasswd_table(htpasswd)
        elif not callable(verify):
            raise TypeError(f"verify: must be callable, not {_kind(verify)}")
        self.realm = _check_realm(realm)
        self.exempt = _exempt_prefixes(exempt)
        # PATH_INFO holds the path's UTF-8 bytes as ISO-8859-1 characters (PEP 3333).
        self._exempt = tuple(_wsgi_str(prefix) for prefix in self.exempt)
        # Paths below a prefix, for one str.startswith (a segment boundary).
        self._exempt_dirs = tuple(prefix + "/" for prefix in self._exempt)
        # The password checker of users= and htpasswd= (empty with verify=).
        self._users = _passwords.UserTable(
            table,
            htpasswd=self.htpasswd,
            stamp=stamp,
            reload_interval=reload_interval,
            cache_ttl=cache_ttl,
            cache_size=cache_size,
        )
        self.reload_interval = self._users.reload_interval
        self.cache_ttl = self._users.cache_ttl
        self.cache_size = self._users.cache_size
        self._warned_truthy = False
        challenge = f"Basic realm={quote_header_value(self.realm, allow_token=False)}"
        self._challenge = plain_response(
            "401 Unauthorized",
            "401 Unauthorized: valid credentials are required.\n",
            [("WWW-Authenticate", f'{challenge}, charset="UTF-8"')],
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Every request pays for this method, so it avoids calls where a few
        # more lines do: the exempt test, the usual "Basic <credentials>"
        # header and verify= are inline (each call saved is ~0.05 us), and
        # log lines are only formatted when their level is on.
        if self._exempt:
            path = environ.get("PATH_INFO") or "/"
            # On a segment boundary (the prefix itself or below it), and not
            # ambiguous: the regex only runs when "/." or "\" is there at all.
            if (path in self._exempt or path.startswith(self._exempt_dirs)) and (
                ("/." not in path and "\\" not in path) or _UNSAFE_PATH_RE.search(path) is None
            ):
                return self.app(environ, start_response)
        header = environ.get("HTTP_AUTHORIZATION")
        if not header:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("no credentials for %s", _where(environ))
            return self._challenge(environ, start_response)
        if len(header) > MAX_LENGTH:
            credentials = None
        else:
            # The usual header first, as in parse_authorization; any other
            # (or one that does not decode) takes the general path.
            credentials = _decode_basic(header[6:]) if header[:6] == "Basic " else None
            if credentials is None:
                scheme, rest = _scheme(header)
                credentials = _decode_basic(rest) if scheme == "basic" else None
        if credentials is None:
            if logger.isEnabledFor(logging.INFO):
                logger.info("malformed or non-Basic credentials from %s", _where(environ))
            return self._challenge(environ, start_response)
        username, password = credentials
        if not username:
            if logger.isEnabledFor(logging.INFO):
                logger.info("empty user name from %s", _where(environ))
            return self._challenge(environ, start_response)
        if self.verify is not None:
            result = self.verify(username, password)
            if result is not True:
                self._refused(result, username, environ)
                return self._challenge(environ, start_response)
        else:
            failure = self._users.check(username, password)
            if failure is not None:
                if logger.isEnabledFor(logging.INFO):
                    logger.info("%s %s from %s", failure, _shorten(username), _where(environ))
                return self._challenge(environ, start_response)
        # PEP 3333 strings; ASCII names (the usual ones) are already.
        environ["REMOTE_USER"] = username if username.isascii() else _wsgi_str(username)
        environ["AUTH_TYPE"] = "Basic"
        environ[PRINCIPAL_KEY] = username
        return self.app(environ, start_response)

    def _refused(self, result: object, username: str, environ: WSGIEnvironment) -> None:
        """Log that ``verify`` returned ``result``, not ``True``."""
        if not self._warned_truthy and _truthy(result):
            self._warned_truthy = True  # once per instance: not a flood
            logger.warning(
                "verify returned %s, not True: access refused (return True to grant it)",
                _kind(result),
            )
        if logger.isEnabledFor(logging.INFO):
            logger.info("login refused for user %s from %s", _shorten(username), _where(environ))


class BearerAuth:
    """Require a bearer token (RFC 6750) that ``verify`` accepts.

    - ``verify(token)`` returns the principal (a user name, a claims dict, a
      user object...) or ``None`` (or ``False``) for an invalid token.
    - No credentials, or another scheme: ``401`` with ``WWW-Authenticate:
      Bearer realm="..."``. A malformed token: ``400`` with
      ``error="invalid_request"``. A token ``verify`` rejects: ``401`` with
      ``error="invalid_token"``. Made here without calling the app, logged on
      ``wsgikit.auth`` (never the token).
    - An exception from ``verify`` propagates (a server fault), unless it is
      one of ``invalid_token_errors``.
    - Only the ``Authorization`` header is read, not the query string or form.

    Environ keys read: ``HTTP_AUTHORIZATION``, ``REQUEST_METHOD``. Written on
    success: ``wsgikit.principal`` (the principal), ``REMOTE_USER`` (when the
    principal is a ``str``), ``AUTH_TYPE`` (``"Bearer"``).

    :param app: The WSGI application to wrap.
    :param verify: A callable ``verify(token)`` returning the principal, or
        ``None`` for an invalid token.
    :param realm: The realm sent in challenges: 1 to 200 printable ASCII
        characters. Default ``"api"``.
    :param invalid_token_errors: Exception classes raised by ``verify`` that
        mean an invalid token (say ``jwt.InvalidTokenError``). Default: none,
        every exception propagates.

    .. code-block:: python

        from wsgikit import BearerAuth

        TOKENS = {"s3cr3t-token": "ci-bot"}
        app = BearerAuth(app, TOKENS.get, realm="api")
    """

    def __init__(
        self,
        app: WSGIApplication,
        verify: Callable[[str], Any],
        *,
        realm: str = "api",
        invalid_token_errors: Iterable[type[BaseException]] = (),
    ) -> None:
        self.app = app
        if not callable(verify):
            raise TypeError(f"verify: must be callable, not {_kind(verify)}")
        self.verify = verify
        self.realm = _check_realm(realm)
        what = "exception classes"
        errors = check_items("invalid_token_errors", invalid_token_errors, what)
        for error in errors:
            if not (isinstance(error, type) and issubclass(error, BaseException)):
                raise TypeError(
                    f"invalid_token_errors: must be a list of {what}, not a list holding {error!r}"
                )
        self.invalid_token_errors = cast(tuple[type[BaseException], ...], errors)
        challenge = f"Bearer realm={quote_header_value(self.realm, allow_token=False)}"
        self._challenge = plain_response(
            "401 Unauthorized",
            "401 Unauthorized: a bearer token is required.\n",
            [("WWW-Authenticate", challenge)],
        )
        self._invalid_token = plain_response(
            "401 Unauthorized",
            "401 Unauthorized: the access token is invalid or expired.\n",
            [("WWW-Authenticate", f'{challenge}, error="invalid_token"')],
        )
        self._invalid_request = plain_response(
            "400 Bad Request",
            "400 Bad Request: malformed bearer token.\n",
            [("WWW-Authenticate", f'{challenge}, error="invalid_request"')],
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        header: str = environ.get("HTTP_AUTHORIZATION") or ""
        if header[:7] == "Bearer " and len(header) <= MAX_LENGTH and _TOKEN68_FULL(header, 7):
            # The usual header, checked without splitting it (_scheme): a
            # token68 has no blanks, so this is what the general path gives.
            token = header[7:]
        else:
            scheme, token = _scheme(header[: MAX_LENGTH + 1]) if header else ("", "")
            if scheme != "bearer":
                if not header:
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug("no credentials for %s", _where(environ))
                elif logger.isEnabledFor(logging.INFO):
                    logger.info("malformed or non-Bearer credentials from %s", _where(environ))
                return self._challenge(environ, start_response)
            if len(header) > MAX_LENGTH or _TOKEN68_RE.fullmatch(token) is None:
                if logger.isEnabledFor(logging.INFO):
                    logger.info("malformed bearer token from %s", _where(environ))
                return self._invalid_request(environ, start_response)
        try:
            principal = self.verify(token)
        except self.invalid_token_errors as error:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "bearer token rejected (%s) from %s", type(error).__name__, _where(environ)
                )
            return self._invalid_token(environ, start_response)
        if principal is None or principal is False:
            if logger.isEnabledFor(logging.INFO):
                logger.info("invalid bearer token from %s", _where(environ))
            return self._invalid_token(environ, start_response)
        environ[PRINCIPAL_KEY] = principal
        if isinstance(principal, str):
            # PEP 3333 strings; ASCII names (the usual ones) are already.
            environ["REMOTE_USER"] = principal if principal.isascii() else _wsgi_str(principal)
        environ["AUTH_TYPE"] = "Bearer"
        return self.app(environ, start_response)


# --- options and responses ---------------------------------------------------------


def _check_realm(realm: object) -> str:
    if not isinstance(realm, str):
        raise TypeError(f"realm: must be {_REALM_WORDS}, not {_kind(realm)}")
    if _REALM_RE.fullmatch(realm) is None:
        raise ValueError(f"realm: must be {_REALM_WORDS}, not {realm!r}")
    return realm


def _exempt_prefixes(exempt: object) -> tuple[str, ...]:
    prefixes: list[str] = []
    for item in check_strings("exempt", exempt):
        if not item.startswith("/") or re.search(r"[\s\x00-\x1f\x7f]", item):
            raise ValueError(f"exempt: {item!r} is not an absolute path (starting with '/')")
        if _UNSAFE_PATH_RE.search(item):
            raise ValueError(f"exempt: {item!r} has a '.' or '..' segment or a backslash")
        prefix = item.rstrip("/")
        if not prefix:
            raise ValueError("exempt: '/' would exempt every path; leave BasicAuth out instead")
        prefixes.append(prefix)
    return tuple(prefixes)


def _wsgi_str(text: str) -> str:
    """A str as PEP 3333 environ strings are: its UTF-8 bytes as ISO-8859-1."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


def _where(environ: WSGIEnvironment) -> str:
    """The client and request line for a log line, client text escaped."""
    path = log_safe(environ.get("PATH_INFO") or "/", _LOG_CHARS)
    method = log_safe(environ.get("REQUEST_METHOD", "?"), 20)
    return f"{environ.get('REMOTE_ADDR', '?')} ({method} {path})"


def _truthy(value: object) -> bool:
    """``bool(value)``, and ``True`` when even that fails (still not ``True``)."""
    try:
        return bool(value)
    except Exception:
        return True
