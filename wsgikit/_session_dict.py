"""The request's session: :class:`Session`, a ``dict`` that loads lazily and
records its changes (used by :mod:`wsgikit.sessions`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.types import WSGIEnvironment

from ._types import Headers

if TYPE_CHECKING:
    from .sessions import SessionMiddleware

logger = logging.getLogger("wsgikit.sessions")

#: Environ key of the request's :class:`Session`.
SESSION_KEY = "wsgikit.session"


def get_session(environ: WSGIEnvironment) -> Session:
    """Return the request's :class:`Session`.

    :param environ: The WSGI environ of a request that passed through
        :class:`SessionMiddleware`.
    :raises LookupError: When no ``SessionMiddleware`` is installed.
    """
    try:
        session: Session = environ[SESSION_KEY]  # not cast(): a call on every request
    except KeyError:
        raise LookupError(
            "no session in the environ: wrap the app in wsgikit.SessionMiddleware"
        ) from None
    return session


class Session(dict[str, Any]):
    """The session of one request: a ``dict`` that records its changes.

    The middleware's session loads (and verifies) its cookie, and with a
    store its stored data, on first access.
    A ``Session`` built directly, ``Session({"a": 1})``, is simply a dict with
    the same attributes.

    - :attr:`modified` -- set by every change through the dict's own
      methods; set it yourself after changing a value in place
      (``session["cart"].append(item)``).
    - :attr:`new` -- ``True`` when the request carried no valid session.
    - :attr:`accessed` -- ``True`` once the session was read or written.
    - :meth:`clear` empties the session and deletes the cookie (and, with a
      store, the stored data).
    - :meth:`rotate` gives the session a new ID (with a store) and keeps
      its data: call it after a login.

    Until it is loaded, the middleware's session holds one private placeholder
    entry, so that C code that reads a dict's storage directly (the ``json``
    module checks the size first) goes through ``items()`` and loads it.
    Extensions that bypass the dict methods entirely (``orjson`` serialises
    dict subclasses from their storage) see that placeholder on a session
    that was not accessed yet: pass ``dict(session)`` to them.
    """

    __slots__ = (
        "_modified",
        "_everything",
        "_new",
        "_pending",
        "_cookie",
        "_middleware",
        "_had_cookie",
        "_sealed",
        "_touched",
        "_cleared",
        "_rotated",
        "_sid",
        "_seen",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self, *args, **kwargs)
        self._modified = False
        # True when `modified = True` was set from outside: a change in
        # place, of keys we cannot name, so every key counts as changed.
        self._everything = False
        self._new = True
        # True until the middleware's session loads its cookie (first access).
        self._pending = False
        self._cookie: str | None = None
        self._middleware: SessionMiddleware | None = None
        self._had_cookie = False
        # True once the cookie was decided (start_response) and no later
        # change has been logged yet.
        self._sealed = False
        # Keys set or deleted in this request, and whether clear() was called.
        self._touched: set[str] | None = None
        self._cleared = False
        self._rotated = False
        # The stored session's ID (with a store), and what was loaded in
        # serialised form (field texts with a store; the JSON text with
        # detect_changes), to find changes made inside values.
        self._sid: str | None = None
        self._seen: Any = None

    @property
    def modified(self) -> bool:
        """``True`` once the session was changed (and so will be written).

        Set it yourself after changing a stored value in place
        (``session["cart"].append(item)``): then every key counts as changed
        when this request's changes are merged (see ``store=``).
        """
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = self._everything = bool(value)

    def _apply_changes(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` (loaded elsewhere) with this request's changes applied on top.

        The merge rule: only the keys this request set or deleted replace
        ``base``'s, after emptying it if the request called :meth:`clear`.
        """
        if self._cleared:
            base = {}
        keys: Iterable[str] = self._touched or ()
        if self._everything:
            keys = {*keys, *dict.keys(self)}
        for key in keys:
            if dict.__contains__(self, key):
                base[key] = dict.__getitem__(self, key)
            else:
                base.pop(key, None)
        return base

    @property
    def accessed(self) -> bool:
        """``True`` once the middleware's session was read or written in this
        request (always ``False`` for a ``Session`` built directly)."""
        return not self._pending and self._middleware is not None

    @property
    def new(self) -> bool:
        """``True`` when the request brought no valid session cookie."""
        if self._pending:
            self._load()
        return self._new

    def _load(self) -> None:
        middleware = self._middleware
        if middleware is None:
            self._pending = False
            return
        # Loaded first, marked loaded after: when the store fails (and
        # raises), the session stays unloaded, so an app that catches the
        # error and writes anyway fails again rather than save an empty
        # session over the stored one.
        found, self._had_cookie = middleware._open(self._cookie)
        self._pending = False
        # Until now only `modified = True` could change the session, and it
        # sets both flags alike; the middleware leaves _everything and _new
        # to this method (an untouched session never pays for them).
        self._everything = self._modified
        self._new = True
        dict.pop(self, _UNLOADED, None)
        self._touched = None
        self._cleared = self._rotated = False
        self._sid = self._seen = None
        if found is not None:
            data, self._sid, self._seen = found
            if data:
                self._new = False
                dict.update(self, data)

    def _changed(self, *keys: str) -> None:
        """Record a change (of ``keys``): the merge rule applies only those."""
        if keys:
            if self._touched is None:
                self._touched = set(keys)
            else:
                self._touched.update(keys)
        if self._sealed:
            self._sealed = False  # logged once (until the next decision)
            logger.warning(
                "the session was changed after start_response(); the change is not sent "
                "(unless the response is replaced with start_response(..., exc_info))"
            )
        self._modified = True

    def _edit(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
        """The response's headers (``intercept_headers``' edit): the app's own
        list when the session adds nothing."""
        self._sealed = True  # a change made from now on (in the body) is too late
        if self._pending:
            if not self._modified:
                # The app never touched the session: nothing to do, but an
                # app cookie of our name is a clash (Pyramid's cookie session
                # is named "session" too) and must not pass silently.
                # (No cast() call: this is every untouched request.)
                middleware: SessionMiddleware = self._middleware  # type: ignore[assignment]
                if middleware._watch_clash:
                    # header_flags(headers, name) & OURS, inlined (one call
                    # less on every untouched request).
                    name = middleware.cookie_name
                    for key, value in headers:
                        if (
                            len(key) == 10  # most headers are not: skip lower()
                            and key.lower() == "set-cookie"
                            and value.split("=", 1)[0].strip() == name
                        ):
                            middleware._warn_clash()
                            break
                return headers
            self._load()  # only `modified = True` was set
        # Only the middleware's own (lazy) sessions are asked.
        return self._middleware._response_headers(self, headers)  # type: ignore[union-attr]

    # --- reading --------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if self._pending:
            self._load()
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if self._pending:
            self._load()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        if self._pending:
            self._load()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        if self._pending:
            self._load()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        if self._pending:
            self._load()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        if self._pending:
            self._load()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if self._pending:
            self._load()
        return dict.__ne__(self, other)

    __hash__ = None  # a dict is unhashable

    def __or__(self, other: Any) -> Any:
        if self._pending:
            self._load()
        return dict(dict.items(self)) | other

    def __ror__(self, other: Any) -> Any:
        if self._pending:
            self._load()
        return other | dict(dict.items(self))

    def __repr__(self) -> str:
        # Not a read: repr(environ) (wsgiref.validate, debug pages, loggers)
        # must not verify the cookie nor make the response vary on it.
        if self._pending:
            return "<Session (not loaded)>"
        return f"<Session {dict.__repr__(self)}>"

    def get(self, key: str, default: Any = None) -> Any:
        if self._pending:
            self._load()
        return dict.get(self, key, default)

    def keys(self) -> Any:
        if self._pending:
            self._load()
        return dict.keys(self)

    def values(self) -> Any:
        if self._pending:
            self._load()
        return dict.values(self)

    def items(self) -> Any:
        if self._pending:
            self._load()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` copy of the data."""
        if self._pending:
            self._load()
        return dict(dict.items(self))

    def __copy__(self) -> dict[str, Any]:
        return self.copy()

    def __reduce__(self) -> Any:
        return (dict, (self.copy(),))

    # --- writing --------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if self._pending:
            self._load()
        dict.__setitem__(self, key, value)
        # _changed(key), inlined: the common write.
        touched = self._touched
        if touched is None:
            self._touched = {key}
        else:
            touched.add(key)
        if self._sealed:
            self._changed()  # only to log the late change
        self._modified = True

    def __delitem__(self, key: str) -> None:
        if self._pending:
            self._load()
        dict.__delitem__(self, key)
        self._changed(key)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]  # any mapping
        self.update(other)
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        if self._pending:
            self._load()
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        dict.__setitem__(self, key, default)
        self._changed(key)
        return default

    def pop(self, key: str, *default: Any) -> Any:
        if self._pending:
            self._load()
        if dict.__contains__(self, key):
            self._changed(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        if self._pending:
            self._load()
        item = dict.popitem(self)
        self._changed(item[0])
        return item

    def update(self, *args: Any, **kwargs: Any) -> None:
        if self._pending:
            self._load()
        items = dict(*args, **kwargs)
        dict.update(self, items)
        self._changed(*items)

    def rotate(self) -> None:
        """Give the session a new ID and keep its data: call it after a login
        (or any change of privilege), so that an ID planted or seen before
        is worthless (session fixation).

        With a store, the data moves to a new random ID and the old one is
        deleted. A cookie session has no ID: it is re-signed.
        """
        if self._pending:
            self._load()
        self._rotated = True
        self._changed()

    def clear(self) -> None:
        """Empty the session; the response deletes the cookie (and the stored data)."""
        if self._pending:
            self._load()
        dict.clear(self)
        self._cleared = True
        self._touched = None
        self._changed()


class _Unloaded:
    """The key of the placeholder entry of a session not loaded yet."""

    def __repr__(self) -> str:
        return "<session not loaded yet>"


_UNLOADED: Any = _Unloaded()
