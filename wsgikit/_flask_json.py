"""Flask's tagged JSON session format (``flask.json.tag``), written from its format.

Used by :class:`wsgikit.sessions.SessionMiddleware` with ``flask_compatible``;
Flask itself is not imported.
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from werkzeug.http import http_date, parse_date


class TaggedJSON:
    """Flask's tagged JSON (``flask.json.tag``), written from its format.

    JSON, plus one-key objects that mark other types: ``{" t": [...]}`` a
    tuple, ``{" b": "base64"}`` bytes, ``{" m": "html"}`` ``Markup`` (anything
    with ``__html__``), ``{" u": "hex"}`` a ``UUID``, ``{" d": "HTTP date"}``
    a ``datetime`` (UTC, whole seconds), and ``{" di": {"key__": value}}`` a
    one-key dict whose key looks like a tag. Output is compact, sorted and
    ASCII, byte for byte what Flask writes. Like Flask's JSON provider, a
    ``date`` is written as an HTTP date string, a ``Decimal`` as a string and
    a dataclass as an object.
    """

    def dumps(self, obj: Any, /) -> str:
        return _encode(_tag(obj))

    def loads(self, text: str, /) -> Any:
        data = json.loads(text)
        # Every tag is a key that starts with a space (written `" t"`, or with
        # an escape `"\u0020t"`): a text with no string starting so holds none,
        # and walking it would only copy it.
        if '" ' in text or '"\\' in text:
            return _untag(data)
        return data


_TAGS = frozenset({" di", " t", " b", " m", " u", " d"})


def _tag(value: Any) -> Any:
    """Python value -> JSON-able value with Flask's type tags (same order of checks)."""
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in _TAGS:
                return {" di": {f"{key}__": _tag(value[key])}}
        return {key: _tag(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {" t": [_tag(item) for item in value]}
    if isinstance(value, list):
        return [_tag(item) for item in value]
    if isinstance(value, bytes):
        return {" b": base64.b64encode(value).decode("ascii")}
    if callable(getattr(value, "__html__", None)):
        return {" m": str(value.__html__())}
    if isinstance(value, uuid.UUID):
        return {" u": value.hex}
    if isinstance(value, datetime):
        return {" d": http_date(value)}
    return value


def _untag_di(value: Any) -> Any:
    key = next(iter(value))
    return {key[:-2]: value[key]}


_UNTAG: dict[str, Callable[[Any], Any]] = {
    " di": _untag_di,
    " t": tuple,
    " b": base64.b64decode,
    " m": Markup,
    " u": uuid.UUID,
    " d": parse_date,
}


def _untag(value: Any) -> Any:
    """JSON value -> Python value, tags resolved inside out (as Flask does)."""
    if isinstance(value, dict):
        value = {key: _untag(item) for key, item in value.items()}
        if len(value) == 1:
            key = next(iter(value))
            untag = _UNTAG.get(key)
            if untag is not None:
                return untag(value[key])
        return value
    if isinstance(value, list):
        return [_untag(item) for item in value]
    return value


def _flask_default(value: Any) -> Any:
    """What Flask's JSON provider does with the types its tags leave over."""
    if isinstance(value, date):
        return http_date(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Built once: the very encoder json.dumps would build with these options on every call.
_encode = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=True, default=_flask_default
).encode
