"""Sessions for any WSGI app: the data in a signed cookie, or in a server-side store.

:class:`SessionMiddleware` puts a :class:`Session` -- a ``dict`` -- at
``environ["wsgikit.session"]`` (also :func:`get_session`). The data travels in
one cookie: JSON, zlib-compressed when that is smaller, base64url, signed with
a timestamp: byte for byte an itsdangerous ``URLSafeTimedSerializer`` value,
made and verified by a faster codec of the same bytes (``wsgikit._signing``,
which also refuses signatures not in canonical base64) with itsdangerous as its
reference and fallback. Nothing is stored on the server, so any process with
the secret key can read the session.

Use it when the session is small (the whole cookie must stay under about 4 KB)
and when it is fine that the client can *read* it: the cookie is signed, not
encrypted. Do *not* put secrets, passwords or personal data in it, do not use
it for large or fast-changing state, and remember that a signed cookie cannot
be revoked before it expires: logging out clears the cookie in *this* browser,
but a copy stolen earlier stays valid until ``max_age`` runs out (rotate the
key to invalidate every session).

For those cases pass ``store=`` (:class:`~wsgikit.RedisStore`, see
:mod:`wsgikit.stores`): the cookie then holds only a signed random session ID,
the data stays on the server, and deleting it there revokes the session.

``flask_compatible=True`` reads and writes exactly the cookies of Flask's
default session (same key, salt ``"cookie-session"``, SHA-1, Flask's tagged
JSON), so a Flask app and a non-Flask app can share one session. Flask itself
is not imported.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.sansio.http import parse_cookie

from ._edit import intercept_headers
from ._flask_json import TaggedJSON as TaggedJSON
from ._http import with_vary
from ._options import check_bool
from ._session_cookie import OURS, VARY, CookieTemplate, header_flags, set_cookie_indexes
from ._session_dict import _UNLOADED
from ._session_dict import SESSION_KEY as SESSION_KEY
from ._session_dict import Session as Session
from ._session_dict import get_session as get_session
from ._session_read import BAD_COOKIE_LOG_INTERVAL as BAD_COOKIE_LOG_INTERVAL
from ._session_read import CookieReader
from ._session_store import StoredSessions
from ._session_util import (
    _JSON,
    _bytes,
    _check_cookie_rules,
    _choice,
    _cookie_name,
    _digest,
    _domain,
    _keys,
    _max_age,
    _path,
    _salt,
    _samesite,
    _serializer,
    _store,
)
from ._signing import CodecSettings, make_codec
from ._types import Headers
from .stores import SessionStore

logger = logging.getLogger("wsgikit.sessions")

_new = Session.__new__


#: werkzeug's rule of thumb for the largest ``Set-Cookie`` value every browser keeps.
MAX_COOKIE_SIZE = 4093
#: Two weeks, like Django and Starlette.
DEFAULT_MAX_AGE = 14 * 24 * 3600

_DEFAULT_SALT = "wsgikit.session"
_DEFAULT_DIGEST = "sha256"
# What Flask's SecureCookieSessionInterface uses.
_FLASK_SALT = "cookie-session"
_FLASK_DIGEST = "sha1"


class SessionTooLarge(Exception):
    """The session's ``Set-Cookie`` would exceed :data:`MAX_COOKIE_SIZE`.

    Raised from the app's ``start_response`` (so before the response starts)
    with ``oversize="error"``: browsers drop such a cookie, and the session
    would silently revert. :class:`~wsgikit.JSONErrors` turns it into a 500.
    """

    def __init__(self, cookie_name: str, size: int, limit: int = MAX_COOKIE_SIZE) -> None:
        super().__init__(
            f"the session cookie {cookie_name} would be {size} bytes, over the {limit}-byte "
            "limit browsers keep (they drop it and the session reverts): store less in the "
            "session, or keep the data on the server with store=RedisStore(...)"
        )
        self.size = size
        self.limit = limit


class Serializer(Protocol):
    """What a session serializer provides: text in, text out."""

    def dumps(self, obj: Any, /) -> str: ...
    def loads(self, text: str, /) -> Any: ...


class SessionMiddleware:
    """Keep a session in a signed cookie and give it to the app as a ``dict``.

    - The cookie is verified **lazily**: a request whose app never touches
      ``environ["wsgikit.session"]`` costs no signature check, no JSON and no
      response change. The first access of the session (any ``dict``
      method, or :attr:`Session.new`) parses the ``Cookie`` header and
      verifies the cookie; ``repr()`` does not (``wsgiref.validate`` and
      debug pages format the whole environ on every request).
    - ``Set-Cookie`` is sent only when the session was changed (assignment,
      ``del``, ``pop``, ``update``, ``setdefault``, ``clear`` ...), or when
      ``session.modified = True`` was set, or on every response whose
      request read a non-empty session when ``refresh_each_request=True``
      (sliding expiry). A session read and left as it was writes nothing.
    - A session emptied while the request carried a cookie (``clear()``,
      or deleting the last key) gets an expiring cookie that deletes it.
    - Once the session has been accessed, the response gets ``Vary: Cookie``
      (merged into an existing ``Vary``).
    - **Expiry** is enforced on the server from the signed timestamp: a
      cookie older than ``max_age`` (or dated in the future) gives an
      empty session. ``max_age`` is also sent as ``Max-Age``/``Expires``.
    - **Bad cookies never raise.** Tampered, truncated, expired, wrongly
      signed, not JSON, not a JSON object, a broken ``Cookie`` header:
      the app gets an empty session (its changes are saved as usual) and a
      line on the ``wsgikit.sessions`` logger (INFO for an expired
      cookie, WARNING for the rest; the cookie's content is never logged).
      A cookie that fails verification is **never deleted** for that
      alone (during a rolling key rotation this process may lack the key
      that signed it): it is replaced when the app writes the session.
      The log line is bounded: one per middleware at its level, then DEBUG
      for :data:`BAD_COOKIE_LOG_INTERVAL` (60) seconds.
      When the browser sends several cookies of this name (set for other
      paths or domains), the valid one signed last wins.
    - A ``Set-Cookie`` longer than 4093 bytes, which browsers drop (the
      session would silently revert), raises :class:`SessionTooLarge` from
      ``start_response``, before the response starts (``JSONErrors`` makes
      it a 500; the fix is ``store=``). With ``oversize="log"`` it is
      logged as an ERROR with its size and sent anyway, as werkzeug does.
    - The cookie is decided when the app calls ``start_response``. Changes
      made later, while the body is iterated, cannot be sent: they are lost
      and the first one is logged as a WARNING (a response replaced with
      ``start_response(..., exc_info)`` carries the session as it is then).
    - The cookie name must be the session's alone. If the app's response
      sets a cookie of the same name (Flask's ``flask.session`` and
      Pyramid's ``SignedCookieSessionFactory`` use ``"session"`` too), the
      two overwrite each other; the first such response is logged as a
      WARNING, whether or not this session was touched. See ``cookie_name``.
    - With ``flask_compatible``, the app's cookie of our name is the shared
      session. When both Flask (``flask.session``) and this session were
      written in one request, they are **merged** into one cookie: Flask's
      data, with the keys changed here on top. A Flask cookie that does not
      verify with this key and salt fails the response (``RuntimeError``)
      rather than drop a write.
    - Changes *inside* a stored value (``session["cart"].append(item)``)
      are not seen unless ``detect_changes=True``; or set
      ``session.modified = True`` afterwards.
    - **Server-side sessions** (``store=``): the cookie holds only a signed
      random ID, the data is loaded on first access. A request writes only
      the keys it changed, atomically (the merge rule of
      :mod:`wsgikit.stores`); ``rotate()`` moves the data to a new ID;
      ``clear()`` deletes it; an unknown ID (expired, revoked) starts a new
      session. A failing store raises :class:`~wsgikit.SessionStoreError`
      (a logged 503), never an empty session that would overwrite the data.
    - Values must be JSON types (``str``, ``int``, ``float``, ``bool``,
      ``None``, lists, dicts with ``str`` keys); with ``flask_compatible``
      also tuples, ``bytes``, ``Markup``, ``UUID`` and ``datetime``. Storing
      anything else is a programming error: ``TypeError`` is raised from
      ``start_response``, as Flask does.
    - **Expiry like Flask's**: ``permanent=False`` writes a browser-session
      cookie (no ``Expires``/``Max-Age``: gone when the browser closes) while
      the server still refuses a cookie older than ``max_age``. With
      ``flask_compatible``, Flask's ``session.permanent`` flag (its
      ``_permanent`` key) decides per session, ``permanent`` being the
      default when the flag is absent: pass ``permanent=False`` and
      ``max_age`` = Flask's ``PERMANENT_SESSION_LIFETIME`` (31 days) to
      behave exactly as Flask does.

    Environ keys written: ``wsgikit.session`` (the :class:`Session`). Read:
    ``HTTP_COOKIE``. One ``SessionMiddleware`` per stack: an inner one
    replaces the outer one's session in the environ.

    :param app: The WSGI application to wrap.
    :param secret_key: The key that signs new cookies (``str`` or
        ``bytes``; empty is a ``ValueError``, under 32 bytes is logged as a
        WARNING). Use a long random value, e.g. ``secrets.token_hex(32)``,
        kept out of the source code and the same in every process.
    :param cookie_name: The cookie's name. ``"session"`` by default, which
        is also the name of Flask's own session cookie: when wrapping a
        Flask app that uses ``flask.session`` (``flash()``, logins ...),
        either pass ``flask_compatible=True`` and Flask's ``secret_key`` (one
        shared session), or choose another name (two separate sessions).
        Otherwise each side reads the other's cookie as a bad one: Flask's
        data is overwritten or deleted. ``__Host-`` names require
        ``secure=True``, ``path="/"`` and no ``domain``; ``__Secure-`` names
        require ``secure=True`` (prefixes in any case, as browsers match them).
    :param max_age: Seconds (an ``int`` or a ``timedelta``) a cookie stays
        valid after it was last written: checked on the server and sent as
        ``Max-Age``/``Expires`` (unless ``permanent=False``). Two weeks by
        default; with a ``store`` also the stored session's TTL, refreshed on
        every write. ``None`` makes a browser-session cookie and the server
        accepts a cookie of any age (not with a ``store``).
    :param secure: Send the cookie over HTTPS only. Off by default; turn it
        on in production.
    :param httponly: Hide the cookie from JavaScript. On by default.
    :param samesite: ``"Lax"`` (the default), ``"Strict"``, ``"None"`` (needs
        ``secure=True``), or ``None`` to send no ``SameSite`` attribute.
    :param fallback_keys: Older keys that still verify cookies but never sign
        them, for key rotation (newest first). Empty by default.
    :param flask_compatible: Read and write Flask's session cookies: salt
        ``"cookie-session"``, SHA-1 and Flask's tagged JSON (tuples,
        ``bytes``, ``Markup``, ``UUID`` and ``datetime`` survive the trip).
        Off by default.
    :param domain: The cookie's ``Domain``. ``None`` (the default) keeps the
        cookie to the host that set it.
    :param path: The cookie's ``Path``, ``"/"`` by default.
    :param partitioned: Send the CHIPS ``Partitioned`` attribute (needs
        ``secure=True``). Off by default.
    :param salt: Separates these signatures from other uses of the key.
        ``None`` means ``"wsgikit.session"``, or Flask's
        ``"cookie-session"`` with ``flask_compatible``.
    :param digest: The hashlib name of the HMAC digest. ``None`` means
        ``"sha256"``, or Flask's ``"sha1"`` with ``flask_compatible``.
    :param refresh_each_request: Re-sign the cookie (a fresh timestamp, so
        a fresh ``max_age``) on every response whose request accessed a
        non-empty session: sliding expiry. Requests that never touch the
        session stay free. Off by default.
    :param serializer: An object with ``dumps(obj) -> str`` and
        ``loads(str) -> obj``. ``None`` means compact JSON, or
        :class:`TaggedJSON` with ``flask_compatible``.
    :param store: Keep the data on the server (:class:`~wsgikit.RedisStore`,
        :class:`~wsgikit.MemoryStore`, or any
        :class:`~wsgikit.stores.SessionStore`): the cookie then holds only a
        signed random session ID (256 bits from :mod:`secrets`). ``None``
        (the default) keeps the data in the cookie. See "Server-side
        sessions" below.
    :param permanent: Send ``Expires``/``Max-Age`` with the cookie (the
        default). ``False``: a browser-session cookie, ``max_age`` still
        enforced on the server (Flask's default behaviour).
    :param detect_changes: At the end of a request that read the session,
        compare the data serialised with what was loaded, so a change inside
        a stored value (``session["cart"].append(x)``) is written without
        ``modified = True``. Costs one serialisation of the session per
        request that reads it (measured: see docs/middlewares/sessions.md), so it is off by default.
    :param oversize: What a ``Set-Cookie`` over 4093 bytes does:
        ``"error"`` (the default) raises :class:`SessionTooLarge`,
        ``"log"`` logs an ERROR and sends it.

    .. code-block:: python

        from wsgikit import SessionMiddleware, get_session

        def app(environ, start_response):
            session = get_session(environ)
            session["visits"] = session.get("visits", 0) + 1
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"visit %d" % session["visits"]]

        app = SessionMiddleware(app, os.environ["SECRET_KEY"], secure=True)
    """

    def __init__(
        self,
        app: WSGIApplication,
        secret_key: str | bytes,
        *,
        cookie_name: str = "session",
        max_age: int | timedelta | None = DEFAULT_MAX_AGE,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
        fallback_keys: Iterable[str | bytes] = (),
        flask_compatible: bool = False,
        domain: str | None = None,
        path: str = "/",
        partitioned: bool = False,
        salt: str | bytes | None = None,
        digest: str | None = None,
        refresh_each_request: bool = False,
        serializer: Serializer | None = None,
        oversize: str = "error",
        store: SessionStore | None = None,
        permanent: bool = True,
        detect_changes: bool = False,
    ) -> None:
        self.app = app
        self.secret_key, self.fallback_keys = _keys(secret_key, fallback_keys)
        self.cookie_name = _cookie_name(cookie_name)
        self.max_age = _max_age(max_age)
        self.secure = check_bool("secure", secure)
        self.httponly = check_bool("httponly", httponly)
        self.samesite = _samesite(samesite)
        self.flask_compatible = check_bool("flask_compatible", flask_compatible)
        self.domain = _domain(domain)
        self.path = _path(path)
        self.partitioned = check_bool("partitioned", partitioned)
        _check_cookie_rules(self)
        self.refresh_each_request = check_bool("refresh_each_request", refresh_each_request)
        self.oversize = _choice("oversize", oversize, ("error", "log"))
        self.permanent = check_bool("permanent", permanent)
        self.detect_changes = check_bool("detect_changes", detect_changes)
        self.store = _store(store, self.max_age, self.flask_compatible)
        self.salt = _salt(salt, _FLASK_SALT if self.flask_compatible else _DEFAULT_SALT)
        self.digest = _digest(
            digest or (_FLASK_DIGEST if self.flask_compatible else _DEFAULT_DIGEST)
        )
        self.serializer = _serializer(serializer, TaggedJSON() if self.flask_compatible else _JSON)

        # Every key verifies, the newest first; only the newest signs: that
        # is key rotation. Itsdangerous' format, in itsdangerous' order.
        keys = [_bytes(key) for key in (*reversed(self.fallback_keys), self.secret_key)]
        # With a store the cookie holds a signed session ID, under a salt of
        # its own so that an ID and a data cookie can never pass for each other.
        salt_bytes = _bytes(self.salt) + (b"" if store is None else b".id")
        dumps, loads = self.serializer.dumps, self.serializer.loads
        self._codec = make_codec(CodecSettings(keys, salt_bytes, self.digest, dumps, loads))
        # Reading happens in the reader: the session calls _open on first access.
        self._reader = CookieReader(
            self.cookie_name, self._codec, self.max_age, loads, self.detect_changes
        )
        self._open = self._reader.open
        self._stored: StoredSessions | None = None
        if store is not None:
            self._stored = self._reader.stored = StoredSessions(
                store, self.max_age or 0, self._serialise, loads, self._reader.log_bad
            )
        self._cookies = CookieTemplate(
            self.cookie_name,
            self.max_age,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            httponly=self.httponly,
            samesite=self.samesite,
            partitioned=self.partitioned,
        )
        # Until a cookie of our name set by the app itself was logged (never
        # in flask_compatible mode, where Flask's cookie is the shared one).
        self._watch_clash = not self.flask_compatible

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # A session that loads the cookie on first access. Session.__init__
        # is skipped and only the fields read before that are set here:
        # _load() sets the rest (_new, _had_cookie, _touched ...), so an
        # untouched session (most requests) pays for neither. (Inlined: a
        # function call costs as much as the rest of this.)
        session = _new(Session)
        session._modified = False
        session._pending = True
        session._cookie = environ.get("HTTP_COOKIE")
        session._middleware = self
        session._sealed = False
        # A placeholder entry, so that C code reading the dict's storage
        # directly (the json module's encoder checks the size first) does not
        # see an empty dict but goes through items(), which loads the cookie.
        dict.__setitem__(session, _UNLOADED, None)
        environ[SESSION_KEY] = session
        return intercept_headers(self.app, environ, start_response, session._edit)

    # --- writing: called from start_response ---------------------------------

    def _encode(self, data: dict[str, Any]) -> str:
        """The signed cookie value holding ``data`` (text, zlib when smaller, base64url)."""
        try:
            return self._codec.sign(data)
        except (TypeError, ValueError) as error:
            raise _unserialisable(error) from error

    def _response_headers(self, session: Session, headers: Headers) -> Headers:
        """The app's headers with ``Vary: Cookie`` and the session's cookie, if any.

        The app's list is never modified: a new list is returned when a header is added.
        """
        flags = header_flags(headers, self.cookie_name)
        # with_vary() when there is a Vary to merge into; else its result, directly.
        varied = with_vary(headers, "Cookie") if flags & VARY else [*headers, ("Vary", "Cookie")]
        theirs = set_cookie_indexes(varied, self.cookie_name) if flags & OURS else []
        if theirs and self.flask_compatible:
            if not session._modified:
                return varied  # Flask wrote the shared session; this side only read it
            # Both sides wrote the one shared session: Flask's cookie is the
            # base, this request's changes go on top, one cookie is sent.
            data = session._apply_changes(self._app_cookie_data(varied[theirs[-1]][1]))
            kept = [header for index, header in enumerate(varied) if index not in theirs]
            merged = self._cookie(self._encode(data), data) if data else self._cookies.delete
            return [*kept, ("Set-Cookie", merged)]
        if theirs:
            self._warn_clash()
        cookie: str | None = None
        if self._stored is not None:
            sid = self._stored.save(session, self.refresh_each_request, self.detect_changes)
            if sid is None:
                return varied
            if not sid:
                return [*varied, ("Set-Cookie", self._cookies.delete)]
            value = self._codec.sign_payload(sid.encode("ascii"))
            return [*varied, ("Set-Cookie", self._cookie(value, {}))]
        if (
            self.detect_changes
            and not session._modified
            and session._seen is not None
            and self._serialise(dict(dict.items(session))) != session._seen
        ):
            session.modified = True  # a change inside a stored value
        if dict.__len__(session):
            if session._modified or self.refresh_each_request:
                data = dict(dict.items(session))
                cookie = self._cookie(self._encode(data), data)
        elif session._had_cookie and session._modified:
            # Emptied by the app. A cookie that merely failed verification is
            # never deleted: during a rolling key rotation this process may
            # lack the key that signed it, and the next one can read it.
            cookie = self._cookies.delete
        if cookie is not None:
            return [*varied, ("Set-Cookie", cookie)]
        return varied

    def _warn_clash(self) -> None:
        if not self._watch_clash:
            return
        self._watch_clash = False
        logger.warning(
            "the app's response sets a cookie named %s, the name of the session cookie: "
            "the two sessions overwrite each other and each reads the other's cookie as "
            "a bad one. Give SessionMiddleware another cookie_name, or (for Flask) use "
            "flask_compatible=True with Flask's secret key to share one session (logged once)",
            self.cookie_name,
        )

    def _app_cookie_data(self, header: str) -> dict[str, Any]:
        """The data of the app's own ``Set-Cookie`` (Flask's, in ``flask_compatible`` mode).

        :raises RuntimeError: When it does not verify: there is then no base
            to merge this request's changes onto, and dropping either side's
            write silently is not an option.
        """
        value = parse_cookie(header.split(";", 1)[0]).get(self.cookie_name, "")
        if not value:
            return {}  # the app deleted its session
        data = None
        with contextlib.suppress(Exception):  # whatever the app wrote
            data = self._reader.decode(self._codec.unsign(value))[1]
        if not isinstance(data, dict):
            raise RuntimeError(
                f"cannot merge the session: the app sets its own {self.cookie_name} cookie "
                "and it does not verify with SessionMiddleware's secret_key and salt; give "
                "both the same secret key (Flask's SECRET_KEY) or use another cookie_name"
            )
        return data

    def _serialise(self, value: Any) -> str:
        try:
            return self.serializer.dumps(value)
        except (TypeError, ValueError) as error:
            raise _unserialisable(error) from error

    def _cookie(self, value: str, data: dict[str, Any]) -> str:
        """The ``Set-Cookie`` header for a cookie ``value`` written now."""
        permanent = self.permanent
        if self.flask_compatible:
            permanent = bool(data.get("_permanent", permanent))  # Flask's session.permanent
        if self.max_age is None or not permanent:
            cookie = self._cookies.browser_session(value)
        else:
            cookie = self._cookies.lasting(value)
        if len(cookie) > MAX_COOKIE_SIZE:
            if self.oversize == "error":
                raise SessionTooLarge(self.cookie_name, len(cookie))
            logger.error(
                "session cookie %s is %d bytes, over the %d-byte limit browsers keep; "
                "it is sent, but the browser will probably drop it",
                self.cookie_name,
                len(cookie),
                MAX_COOKIE_SIZE,
            )
        return cookie


# --- private helpers -----------------------------------------------------------


def _unserialisable(error: Exception) -> TypeError:
    return TypeError(
        f"the session cannot be serialised ({error}); store JSON types "
        "(str, int, float, bool, None, list, dict with str keys)"
    )
