"""Option checks and the default serializer of :mod:`wsgikit.sessions`
(``SessionMiddleware.__init__`` validates every option through these)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._options import check_int, check_items, check_token
from .stores import SessionStore

if TYPE_CHECKING:
    from .sessions import Serializer, SessionMiddleware

logger = logging.getLogger("wsgikit.sessions")

#: Shorter secret keys are logged as a WARNING at construction.
MIN_KEY_BYTES = 32

_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
# RFC 6265 cookie-name = RFC 9110 token.
_PATH_RE = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")  # visible ASCII but ";"
_DOMAIN_RE = re.compile(r"\.?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


class _CompactJSON:
    """The default serializer: compact JSON, no NaN or Infinity.

    The same text as ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)`` and the same data as ``json.loads(text)``, in fewer steps
    (this runs on every request that reads or writes a session): the json
    module's C encoder is built once instead of on every call, and its C
    scanner reads the text directly when the text is exactly one JSON value
    (anything else, and every error, goes through ``json.loads`` itself).
    """

    @staticmethod
    def dumps(obj: Any) -> str:
        try:
            return "".join(_encode(obj, 0))
        except RecursionError:
            # The prebuilt encoder does not track the containers it is in
            # (one shared record would not be thread-safe), so a circular
            # value recurses: the json module's own encoder names the cycle.
            return _REFERENCE_ENCODER.encode(obj)

    @staticmethod
    def loads(text: str) -> Any:
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):  # leading or trailing text, or not JSON: json's own errors
            return json.loads(text)
        return value


_REFERENCE_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _not_json(value: Any) -> Any:
    return _REFERENCE_ENCODER.default(value)  # raises json's TypeError


# What JSONEncoder.iterencode(_one_shot=True) builds on every call, with these
# options, except the circular-reference record (None: see dumps()).
# (Without the C accelerator, as on some other Pythons, the encoder's own method.)
_encode: Any = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else lambda obj, _: (_REFERENCE_ENCODER.encode(obj),)
)
_scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


_JSON = _CompactJSON()


def _key(option: str, key: object) -> str | bytes:
    if not isinstance(key, str | bytes):
        raise TypeError(
            f"{option}: must be a key (non-empty str or bytes), not {type(key).__name__}"
        )
    if not key:
        raise ValueError(f"{option}: must be a key (non-empty str or bytes), not {key!r}")
    return key


def _bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def _cookie_name(name: object) -> str:
    return check_token("cookie_name", name, "a cookie name")


def _max_age(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = int(value.total_seconds())
    return check_int("max_age", value, minimum=1, unit="seconds (or a timedelta)", none=True)


def _samesite(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in _SAMESITE:
        raise ValueError(f'samesite: must be "Strict", "Lax", "None" or None, not {value!r}')
    return _SAMESITE[value.lower()]


def _domain(value: object) -> str | None:
    if value is None:
        return None
    return _matching("domain", value, _DOMAIN_RE, "a str or None", "is not a host name")


def _path(value: object) -> str:
    return _matching(
        "path", value, _PATH_RE, "a str", "must start with / and hold no spaces, controls or ;"
    )


def _matching(option: str, value: object, pattern: re.Pattern[str], kind: str, rule: str) -> str:
    """``value``, a str that ``pattern`` matches whole (else ``TypeError``, ``ValueError``)."""
    if not isinstance(value, str):
        raise TypeError(f"{option}: must be {kind}, not {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise ValueError(f"{option} {value!r} {rule}")
    return value


def _digest(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"digest: must be a hashlib algorithm name, not {type(name).__name__}")
    try:
        hashlib.new(name)
        hmac_ok = not name.lower().startswith("shake")
    except ValueError:
        hmac_ok = False
    if not hmac_ok:
        raise ValueError(f"digest {name!r} is not a fixed-size hashlib algorithm (e.g. sha256)")
    return name.lower()


def _keys(
    secret_key: object, fallback_keys: Iterable[str | bytes]
) -> tuple[str | bytes, tuple[str | bytes, ...]]:
    """The checked ``secret_key`` (a short one is logged) and ``fallback_keys``."""
    secret = _key("secret_key", secret_key)
    if len(_bytes(secret)) < MIN_KEY_BYTES:
        # Not refused: a short key still signs, and tests use them.
        logger.warning(
            "secret_key is %d bytes; use at least %d random bytes "
            "(e.g. secrets.token_hex(32)) so the signature cannot be brute-forced",
            len(_bytes(secret)),
            MIN_KEY_BYTES,
        )
    # Not split like a list of names: a key may hold spaces and commas.
    keys = check_items("fallback_keys", fallback_keys, "keys (str or bytes)")
    return secret, tuple(_key("fallback_keys", key) for key in keys)


def _check_cookie_rules(options: SessionMiddleware) -> None:
    """Refuse attribute combinations browsers reject (the session would never stick)."""
    if options.samesite == "None" and not options.secure:
        raise ValueError('samesite="None" requires secure=True (browsers reject it otherwise)')
    if options.partitioned and not options.secure:
        raise ValueError("partitioned=True requires secure=True")
    # Browsers match the prefixes case-insensitively (RFC 6265bis), so
    # "__host-sid" is held to the __Host- rules too.
    prefix = options.cookie_name[:9].lower()
    if prefix == "__secure-" and not options.secure:
        raise ValueError("a __Secure- cookie_name (any case) requires secure=True")
    if prefix[:7] == "__host-" and (
        not options.secure or options.path != "/" or options.domain is not None
    ):
        raise ValueError(
            'a __Host- cookie_name (any case) requires secure=True, path="/" and no domain'
        )


def _choice(option: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        allowed = " or ".join(f'"{choice}"' for choice in choices)
        raise ValueError(f"{option}: must be {allowed}, not {value!r}")
    return str(value)


def _store(store: object, max_age: int | None, flask_compatible: bool) -> SessionStore | None:
    if store is None:
        return None
    if not isinstance(store, SessionStore):
        raise TypeError("store: must have load(), save() and delete() (see SessionStore)")
    if max_age is None:
        raise ValueError("store= needs a max_age: it is the stored session's lifetime")
    if flask_compatible:
        raise ValueError("flask_compatible shares Flask's cookie session; it cannot use a store=")
    return store


def _salt(value: object, default: str) -> str | bytes:
    if value is None:
        return default
    if not isinstance(value, str | bytes):
        raise TypeError(f"salt: must be a str or bytes, not {type(value).__name__}")
    return value


def _serializer(value: Any, default: Serializer) -> Serializer:
    if value is None:
        return default
    if not (callable(getattr(value, "dumps", None)) and callable(getattr(value, "loads", None))):
        raise TypeError("serializer: must have dumps(obj) -> str and loads(str) methods")
    if not isinstance(value.dumps({}), str):
        raise TypeError("serializer.dumps() must return str")
    return value  # type: ignore[no-any-return]


class LogThrottle:
    """Says when a recurring problem is due a log line at its own level: at
    most once per ``interval`` seconds (DEBUG in between).

    A bad cookie is sent again on every request, and a failing store fails
    every request: unbounded, either line would flood the log.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._quiet_until = 0.0

    def due(self) -> bool:
        """``True`` (and a quiet interval starts) unless within one."""
        now = time.monotonic()
        if now < self._quiet_until:
            return False
        self._quiet_until = now + self.interval
        return True
