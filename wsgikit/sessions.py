"""Sessions for any WSGI app: the data in a signed cookie, or in a server-side store.

:class:`SessionMiddleware` puts a :class:`Session` -- a ``dict`` -- at
``environ["wsgikit.session"]`` (also :func:`get_session`). The data travels in
one cookie: JSON, zlib-compressed when that is smaller, base64url, signed with
a timestamp by itsdangerous (``URLSafeTimedSerializer``). Nothing is stored on
the server, so any process with the secret key can read the session.

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
import re
import secrets
import time
import zlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode
from werkzeug.http import dump_cookie, http_date
from werkzeug.sansio.http import parse_cookie

from ._flask_json import TaggedJSON as TaggedJSON
from ._http import with_vary
from ._response import Headers, intercept
from ._session_dict import SESSION_KEY as SESSION_KEY
from ._session_dict import Session as Session
from ._session_dict import _lazy_session
from ._session_dict import get_session as get_session
from ._session_util import (
    _JSON,
    _bytes,
    _cookie_name,
    _digest,
    _domain,
    _flag,
    _key,
    _max_age,
    _path,
    _samesite,
    _Signer,
)
from .stores import SessionStore, SessionStoreError

logger = logging.getLogger("wsgikit.sessions")


#: werkzeug's rule of thumb for the largest ``Set-Cookie`` value every browser keeps.
MAX_COOKIE_SIZE = 4093
#: Seconds during which further bad cookies are logged at DEBUG only.
BAD_COOKIE_LOG_INTERVAL = 60
#: Shorter secret keys are logged as a WARNING at construction.
MIN_KEY_BYTES = 32
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
      alone: during a rolling key rotation this process may lack the key
      that signed it, and the next process reads it again. It is replaced
      only when the app writes the session, and deleted only when the app
      empties it (``clear()``). As the browser keeps sending it, the log
      line is bounded: the first one per middleware at its level, then
      DEBUG for :data:`BAD_COOKIE_LOG_INTERVAL` (60) seconds.
      When the browser sends several cookies of this name (set for other
      paths or domains), the valid one signed last wins.
    - A ``Set-Cookie`` longer than 4093 bytes, which browsers drop (the
      session would silently revert), raises :class:`SessionTooLarge` from
      ``start_response``, before the response starts (``JSONErrors`` makes
      it a 500; the fix is ``store=``). With ``oversize="log"`` it is
      logged as an ERROR with its size and sent anyway, as werkzeug does.
    - The cookie is decided when the app calls ``start_response``. Changes
      made later, while the body is being iterated (also when the session
      is first touched there), cannot be sent: they are lost, and the first
      one is logged as a WARNING (unless the app then replaces its response
      with ``start_response(..., exc_info)``, which carries the session as
      it is then).
    - The cookie name must be the session's alone. If the app's response
      sets a cookie of the same name (Flask's ``flask.session`` and
      Pyramid's ``SignedCookieSessionFactory`` use ``"session"`` too), the
      two overwrite each other; the first such response is logged as a
      WARNING, whether or not this session was touched. See ``cookie_name``.
    - With ``flask_compatible``, the app's cookie of our name is the shared
      session. When both the inner Flask app (``flask.session``) and this
      session were written in one request, the two are **merged** into one
      cookie: Flask's ``Set-Cookie`` is verified and taken as the base, and
      the keys this request set or deleted here (all keys after
      ``modified = True``; everything after ``clear()``) are applied on top.
      If Flask's cookie does not verify with this key and salt, the
      response fails with a ``RuntimeError`` rather than drop a write.
    - Changes *inside* a stored value (``session["cart"].append(item)``)
      are not seen unless ``detect_changes=True``; or set
      ``session.modified = True`` afterwards.
    - **Server-side sessions** (``store=``): the cookie holds only a signed
      random ID; the data is loaded from the store on first access, like
      the cookie. The merge rule: a request writes only the keys it set or
      deleted (with ``modified = True`` or ``detect_changes``: every key
      whose serialised value changed), atomically, so concurrent requests
      of one session keep each other's changes to different keys (the same
      key: last write wins). ``rotate()`` moves the data to a new ID and
      deletes the old; ``clear()`` deletes the stored data and the cookie;
      an ID the store does not know (expired, revoked) starts a new session
      under a new ID. A store that fails raises
      :class:`~wsgikit.SessionStoreError` (``code = 503``), logged as an
      ERROR: never an empty session that would overwrite the data.
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
        request that reads it (measured: see README), so it is off by default.
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
        self.secret_key = _key("secret_key", secret_key)
        if len(_bytes(self.secret_key)) < MIN_KEY_BYTES:
            # Not refused: a short key still signs, and tests use them.
            logger.warning(
                "secret_key is %d bytes; use at least %d random bytes "
                "(e.g. secrets.token_hex(32)) so the signature cannot be brute-forced",
                len(_bytes(self.secret_key)),
                MIN_KEY_BYTES,
            )
        if isinstance(fallback_keys, str | bytes):
            raise TypeError("fallback_keys must be a list of keys, not a single key")
        self.fallback_keys = tuple(_key("fallback_keys", key) for key in fallback_keys)
        self.cookie_name = _cookie_name(cookie_name)
        self.max_age = _max_age(max_age)
        self.secure = _flag("secure", secure)
        self.httponly = _flag("httponly", httponly)
        self.samesite = _samesite(samesite)
        self.flask_compatible = _flag("flask_compatible", flask_compatible)
        self.domain = _domain(domain)
        self.path = _path(path)
        self.partitioned = _flag("partitioned", partitioned)
        self.refresh_each_request = _flag("refresh_each_request", refresh_each_request)
        if oversize not in ("error", "log"):
            raise ValueError(f'oversize must be "error" or "log", not {oversize!r}')
        self.oversize = oversize
        self.permanent = _flag("permanent", permanent)
        self.detect_changes = _flag("detect_changes", detect_changes)
        if store is not None:
            if not isinstance(store, SessionStore):
                raise TypeError("store must have load(), save() and delete() (see SessionStore)")
            if self.max_age is None:
                raise ValueError("store= needs a max_age: it is the stored session's lifetime")
            if self.flask_compatible:
                raise ValueError(
                    "flask_compatible shares Flask's cookie session; it cannot use a store="
                )
        self.store = store
        if self.samesite == "None" and not self.secure:
            raise ValueError('samesite="None" requires secure=True (browsers reject it otherwise)')
        if self.partitioned and not self.secure:
            raise ValueError("partitioned=True requires secure=True")
        # Browsers match the prefixes case-insensitively (RFC 6265bis), so
        # "__host-sid" is held to the __Host- rules too: a cookie breaking
        # them would be dropped and the session would never stick.
        prefix = self.cookie_name[:9].lower()
        if prefix == "__secure-" and not self.secure:
            raise ValueError("a __Secure- cookie_name (any case) requires secure=True")
        if prefix[:7] == "__host-" and (
            not self.secure or self.path != "/" or self.domain is not None
        ):
            raise ValueError(
                'a __Host- cookie_name (any case) requires secure=True, path="/" and no domain'
            )
        if salt is None:
            salt = _FLASK_SALT if self.flask_compatible else _DEFAULT_SALT
        if not isinstance(salt, str | bytes):
            raise TypeError(f"salt must be a str or bytes, not {type(salt).__name__}")
        self.salt = salt
        self.digest = _digest(
            digest or (_FLASK_DIGEST if self.flask_compatible else _DEFAULT_DIGEST)
        )
        if serializer is None:
            serializer = TaggedJSON() if self.flask_compatible else _JSON
        if not (
            callable(getattr(serializer, "dumps", None))
            and callable(getattr(serializer, "loads", None))
        ):
            raise TypeError("serializer must have dumps(obj) -> str and loads(str) methods")
        if not isinstance(serializer.dumps({}), str):
            raise TypeError("serializer.dumps() must return str")
        self.serializer = serializer

        # itsdangerous verifies with every key, newest (last) first, and signs
        # with the last one only: that is key rotation.
        keys: list[bytes] = [
            _bytes(key) for key in (*reversed(self.fallback_keys), self.secret_key)
        ]
        self._payloads = URLSafeTimedSerializer(
            keys,
            salt=salt,
            serializer=serializer,
            signer=_Signer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": self.digest},
        )
        self._signer = cast(_Signer, self._payloads.make_signer())
        # With a store the cookie holds a signed session ID, under a salt of
        # its own so that an ID and a data cookie can never pass for each other.
        self._id_signer = _Signer(
            keys,
            salt=_bytes(salt) + b".id",
            key_derivation="hmac",
            digest_method=self.digest,
        )
        self._cookie_options: dict[str, Any] = {
            "path": self.path,
            "domain": self.domain,
            "secure": self.secure,
            "httponly": self.httponly,
            "samesite": self.samesite,
            "partitioned": self.partitioned,
            "max_size": 0,  # we log oversized cookies ourselves
        }
        self._expires_cache: tuple[int, str] = (-1, "")
        self._named = re.compile(rf"(?:^|[;,\s]){re.escape(self.cookie_name)}\s*=")
        self._delete_cookie = dump_cookie(
            self.cookie_name, "", max_age=0, expires=0, **self._cookie_options
        )
        # Bad cookies are logged at their level once per interval, else DEBUG.
        self._quiet_until = 0.0
        self._store_quiet_until = 0.0
        # Until a cookie of our name set by the app itself was logged (never
        # in flask_compatible mode, where Flask's cookie is the shared one).
        self._watch_clash = not self.flask_compatible

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = _lazy_session(self, environ.get("HTTP_COOKIE"))
        environ[SESSION_KEY] = session
        return intercept(self.app, environ, start_response, session._decide)

    # --- reading: called on the session's first access ----------------------

    def _open(self, header: str | None) -> tuple[_Found | None, bool]:
        """Return what the request's cookie holds, and whether one was sent.

        ``None`` when there is no cookie of this name or none of them is
        valid (tampered, expired, malformed, unknown to the store ...).
        """
        name = self.cookie_name
        if not header or name not in header:
            return None, False
        # PEP 3333 headers are latin-1; cookies are UTF-8 on the wire. Not
        # werkzeug.http.parse_cookie, which does this step strictly: it raises
        # UnicodeDecodeError when *any* cookie in the header is not UTF-8 (and
        # UnicodeEncodeError for a non-latin-1 str), so a neighbour's cookie
        # would cost us the session. werkzeug's own sans-IO parser does the rest.
        text = header.encode("latin-1", "replace").decode("utf-8", "replace")
        values = parse_cookie(text).getlist(name)
        if not values:
            if self._named.search(text):
                self._log_bad(logging.WARNING, "the Cookie header has a malformed %s cookie", name)
                return None, True
            return None, False
        if len(values) == 1:
            return self._verify(values[0]), True
        self._log_bad(
            logging.INFO, "%d cookies named %s; using the valid one signed last", len(values), name
        )
        best: _Found | None = None
        best_time = -1.0
        for value in values:
            signed = self._signed_at(value)
            if signed > best_time:
                found = self._verify(value)
                if found is not None:
                    best, best_time = found, signed
        return best, True

    def _verify(self, value: str) -> _Found | None:
        """Return the cookie's data, or ``None`` (and a log line) if it is bad."""
        signer = self._signer if self.store is None else self._id_signer
        try:
            payload = signer.unsign(value, max_age=self.max_age)
        except SignatureExpired as error:
            self._log_bad(logging.INFO, "session cookie %s expired (%s)", self.cookie_name, error)
            return None
        except BadData:
            self._log_bad(
                logging.WARNING,
                "session cookie %s (%d bytes) has a bad signature or format (or was signed "
                "with a key this process lacks); starting an empty session",
                self.cookie_name,
                len(value),
            )
            return None
        except (ValueError, OverflowError, OSError):  # a validly signed absurd timestamp
            self._log_bad(
                logging.WARNING, "session cookie %s has an impossible timestamp", self.cookie_name
            )
            return None
        if self.store is not None:
            return self._fetch(payload.decode("ascii"))
        try:
            text, data = self._decode(payload)
        except Exception as error:  # anything a serializer raises on client input
            cause = getattr(error, "original_error", None) or error
            self._log_bad(
                logging.WARNING,
                "session cookie %s is signed but cannot be decoded (%s); starting an empty session",
                self.cookie_name,
                type(cause).__name__,
            )
            return None
        if not isinstance(data, dict):
            self._log_bad(
                logging.WARNING,
                "session cookie %s holds a JSON %s, not an object; starting an empty session",
                self.cookie_name,
                type(data).__name__,
            )
            return None
        return data, None, text if self.detect_changes else None

    # The two codec functions: everything that turns data into a signed
    # cookie value and back goes through _encode and _decode.

    def _encode(self, data: dict[str, Any]) -> str:
        """The signed cookie value holding ``data`` (JSON, zlib when smaller, base64url)."""
        try:
            payload = self._payloads.dump_payload(data)
        except (TypeError, ValueError) as error:
            raise _unserialisable(error) from error
        return self._signer.sign(payload).decode("ascii")

    def _decode(self, payload: bytes) -> tuple[str, Any]:
        """The serialised text and the data of a verified payload (itsdangerous'
        ``load_payload``, keeping the text for ``detect_changes``)."""
        compressed = payload.startswith(b".")
        raw = base64_decode(payload[1:] if compressed else payload)
        text = (zlib.decompress(raw) if compressed else raw).decode("utf-8")
        return text, self.serializer.loads(text)

    def _fetch(self, sid: str) -> _Found | None:
        """The stored session ``sid``: its data, ID and field texts."""
        try:
            fields = cast(SessionStore, self.store).load(sid)
        except SessionStoreError as error:
            raise self._store_failed(error) from error
        if not fields:
            self._log_bad(
                logging.INFO,
                "session %s is not in the store (expired or revoked); starting a new session",
                self.cookie_name,
            )
            return None
        data: dict[str, Any] = {}
        for key, text in fields.items():
            try:
                data[key] = self.serializer.loads(text)
            except Exception as error:
                # Left alone in the store: only keys this request changes are written.
                logger.warning(
                    "stored session key %r cannot be decoded (%s); the app does not see it",
                    key,
                    type(error).__name__,
                )
        return data, sid, fields

    def _store_failed(self, error: SessionStoreError) -> SessionStoreError:
        """Log a store failure (bounded like bad cookies) and return it to raise."""
        now = time.monotonic()
        level = logging.DEBUG if now < self._store_quiet_until else logging.ERROR
        if level == logging.ERROR:
            self._store_quiet_until = now + BAD_COOKIE_LOG_INTERVAL
        logger.log(level, "session store failed, the request fails with a 503: %s", error)
        return error

    def _log_bad(self, level: int, message: str, *args: object) -> None:
        """Log a bad cookie at ``level`` at most once per :data:`BAD_COOKIE_LOG_INTERVAL`
        seconds (per middleware), and at DEBUG in between.

        A bad cookie is kept (see ``_response_headers``), so the browser sends
        it again on every request: unbounded, the line would flood the log.
        """
        now = time.monotonic()
        if now < self._quiet_until:
            logger.debug(message, *args)
            return
        self._quiet_until = now + BAD_COOKIE_LOG_INTERVAL
        logger.log(
            level,
            message + " (more bad cookies in the next %d s are logged at DEBUG)",
            *args,
            BAD_COOKIE_LOG_INTERVAL,
        )

    def _signed_at(self, value: str) -> float:
        """When a validly signed, unexpired ``value`` was signed; -1 if it is not one."""
        signer = self._signer if self.store is None else self._id_signer
        try:
            return signer.unsign(value, max_age=self.max_age, return_timestamp=True)[1].timestamp()
        except (BadData, ValueError, OverflowError, OSError):
            return -1.0

    # --- writing: called from start_response ---------------------------------

    def _response_headers(self, session: Session, headers: Headers) -> Headers:
        """The app's headers with ``Vary: Cookie`` and the session's cookie, if any.

        The app's list is never modified: a new list is returned when a header is added.
        """
        varied = with_vary(headers, "Cookie")
        theirs = self._app_cookies(varied)
        if theirs and self.flask_compatible:
            if not session.modified:
                return varied  # Flask wrote the shared session; this side only read it
            # Both sides wrote the one shared session: Flask's cookie is the
            # base, this request's changes go on top, one cookie is sent.
            data = session._apply_changes(self._app_cookie_data(varied[theirs[-1]][1]))
            kept = [header for index, header in enumerate(varied) if index not in theirs]
            merged = self._cookie(self._encode(data), data) if data else self._delete_cookie
            return [*kept, ("Set-Cookie", merged)]
        if theirs:
            self._warn_clash()
        cookie: str | None = None
        if self.store is not None:
            cookie = self._store_write(session)
            return varied if cookie is None else [*varied, ("Set-Cookie", cookie)]
        if (
            self.detect_changes
            and not session._modified
            and session._seen is not None
            and self._serialise(dict(dict.items(session))) != session._seen
        ):
            session.modified = True  # a change inside a stored value
        if dict.__len__(session):
            if session.modified or self.refresh_each_request:
                data = dict(dict.items(session))
                cookie = self._cookie(self._encode(data), data)
        elif session._had_cookie and session.modified:
            # Emptied by the app. A cookie that merely failed verification is
            # never deleted: during a rolling key rotation this process may
            # lack the key that signed it, and the next one can read it.
            cookie = self._delete_cookie
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

    def _app_cookies(self, headers: Headers) -> list[int]:
        """The indexes of the ``Set-Cookie`` headers for this cookie name."""
        name = self.cookie_name
        return [
            index
            for index, (key, value) in enumerate(headers)
            if key.lower() == "set-cookie" and value.split("=", 1)[0].strip() == name
        ]

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
            data = self._decode(self._signer.unsign(value))[1]
        if not isinstance(data, dict):
            raise RuntimeError(
                f"cannot merge the session: the app sets its own {self.cookie_name} cookie "
                "and it does not verify with SessionMiddleware's secret_key and salt; give "
                "both the same secret key (Flask's SECRET_KEY) or use another cookie_name"
            )
        return data

    def _store_write(self, session: Session) -> str | None:
        """Write the session's changes to the store; the ``Set-Cookie``, if any.

        The merge rule: only the keys this request set or deleted are
        written (all keys whose serialised value changed, after
        ``modified = True`` or with ``detect_changes``), in one atomic step
        of the store, so concurrent requests keep each other's other keys.
        A new ID (a new session, ``rotate()``, ``clear()``) gets everything.
        """
        store = cast(SessionStore, self.store)
        ttl = cast(int, self.max_age)
        sid = session._sid
        data = dict(dict.items(session))
        try:
            if sid is None or session._cleared or session._rotated:
                if not data:
                    if sid is not None and session._cleared:
                        store.delete(sid)
                    return (
                        self._delete_cookie if session._had_cookie and session._modified else None
                    )
                if not (session._modified or self.refresh_each_request):
                    return None
                new = secrets.token_urlsafe(32)  # 256 bits
                fields = {key: self._serialise(value) for key, value in data.items()}
                retire = sid if session._cleared or session._rotated else None
                store.save(new, fields, (), ttl, fresh=True, retire=retire)
                return self._cookie(self._id_signer.sign(new).decode("ascii"), data)
            touched = session._touched or set()
            deleted = [key for key in touched if key not in data]
            if session._everything or self.detect_changes:
                seen = session._seen or {}
                texts = {key: self._serialise(value) for key, value in data.items()}
                changed = {key: text for key, text in texts.items() if seen.get(key) != text}
            else:
                changed = {key: self._serialise(data[key]) for key in touched if key in data}
            if not (changed or deleted or session._modified or self.refresh_each_request):
                return None
            store.save(sid, changed, deleted, ttl)
        except SessionStoreError as error:
            raise self._store_failed(error) from error
        if not data:
            return self._delete_cookie if session._had_cookie else None
        return self._cookie(self._id_signer.sign(sid).decode("ascii"), data)

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
            cookie = dump_cookie(self.cookie_name, value, **self._cookie_options)
        else:
            cookie = dump_cookie(
                self.cookie_name,
                value,
                max_age=self.max_age,
                expires=self._expires(),
                **self._cookie_options,
            )
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

    def _expires(self) -> str:
        """The ``Expires`` date for a cookie written now (computed once a second)."""
        now = int(time.time())
        second, text = self._expires_cache
        if second != now:
            text = http_date(now + cast(int, self.max_age))
            self._expires_cache = (now, text)
        return text


# --- private helpers -----------------------------------------------------------

# What a cookie holds once verified: the data, the stored session's ID (with
# a store) and the data as it was serialised (see Session._seen).
_Found = tuple[dict[str, Any], str | None, Any]


def _unserialisable(error: Exception) -> TypeError:
    return TypeError(
        f"the session cannot be serialised ({error}); store JSON types "
        "(str, int, float, bool, None, list, dict with str keys)"
    )
