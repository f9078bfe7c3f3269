"""Option checks and the default serializer of :mod:`wsgikit.sessions`."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
# RFC 6265 cookie-name = RFC 9110 token.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH_RE = re.compile(r"/[\x21-\x3a\x3c-\x7e]*")  # visible ASCII but ";"
_DOMAIN_RE = re.compile(r"\.?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")


class _CompactJSON:
    """The default serializer: compact JSON, no NaN or Infinity.

    ``dumps`` is a prebuilt encoder's ``encode``: the very call ``json.dumps``
    makes with these options, without building an encoder per call (same bytes).
    """

    dumps = staticmethod(
        json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    )
    # json.loads() without options is this decoder's decode() (plus a check
    # for a BOM, which decode() refuses as well).
    loads = staticmethod(json.JSONDecoder().decode)


_JSON = _CompactJSON()


def _key(option: str, key: object) -> str | bytes:
    if not isinstance(key, str | bytes):
        raise TypeError(f"{option} must be str or bytes, not {type(key).__name__}")
    if not key:
        raise ValueError(f"{option} must not be empty")
    return key


def _bytes(key: str | bytes) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def _flag(option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be a bool, not {type(value).__name__}")
    return value


def _cookie_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"cookie_name must be a str, not {type(name).__name__}")
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(f"cookie_name {name!r} is not a valid cookie name (an RFC 9110 token)")
    return name


def _max_age(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = int(value.total_seconds())
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_age must be seconds (int), a timedelta or None, not {value!r}")
    if value <= 0:
        raise ValueError(f"max_age must be positive (or None), not {value}")
    return value


def _samesite(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in _SAMESITE:
        raise ValueError(f'samesite must be "Strict", "Lax", "None" or None, not {value!r}')
    return _SAMESITE[value.lower()]


def _domain(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"domain must be a str or None, not {type(value).__name__}")
    if not _DOMAIN_RE.fullmatch(value):
        raise ValueError(f"domain {value!r} is not a host name")
    return value


def _path(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"path must be a str, not {type(value).__name__}")
    if not _PATH_RE.fullmatch(value):
        raise ValueError(f"path {value!r} must start with / and hold no spaces, controls or ;")
    return value


def _digest(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"digest must be a hashlib algorithm name, not {type(name).__name__}")
    try:
        hashlib.new(name)
        hmac_ok = not name.lower().startswith("shake")
    except ValueError:
        hmac_ok = False
    if not hmac_ok:
        raise ValueError(f"digest {name!r} is not a fixed-size hashlib algorithm (e.g. sha256)")
    return name.lower()
