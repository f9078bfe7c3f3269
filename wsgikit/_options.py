"""The checks every middleware constructor runs on its options, one wording each.

An option name means the same thing in every class that has it, so its check
lives here once: ``debug`` and ``trust_incoming`` are refused with the same
words, ``max_age`` and ``min_size`` the same way, and every list of names
takes the same forms (the ones an INI file gives it, too). A message is
``"<option>: must be <what is accepted>, not <what was given>"``; the
exception is :class:`TypeError` for a value of the wrong type and
:class:`ValueError` for a value out of range.

The one list rule (:func:`check_strings`): a list, tuple or any other iterable
of str, or one str holding the items separated by commas and/or whitespace,
as in an INI file (``"GET, POST"`` is ``["GET", "POST"]``). ``content_types``
follows it as well (:func:`wsgikit._http.media_patterns`). Secrets are the
exception: a key may hold spaces and commas, so ``fallback_keys`` refuses a
single str rather than split it (:func:`check_items`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from ._http import TOKEN

#: What :func:`check_strings` accepts, as said in its messages.
LIST_FORMS = "a list of str, or one str of items separated by commas or spaces"

_SEPARATORS = re.compile(r"[\s,]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def check_bool(option: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False``; no truthy stand-ins (``1``, ``"yes"``).

    :raises TypeError: For anything else.
    """
    if value is True or value is False:
        return value
    raise TypeError(f"{option}: must be True or False, not {_shown(value)}")


def _range_words(minimum: float, maximum: float | None, strict: bool) -> str:
    if maximum is not None:
        return f"between {minimum:g} and {maximum:g}"
    return f"> {minimum:g}" if strict else f">= {minimum:g}"


def check_int(
    option: str,
    value: object,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    unit: str = "",
    none: bool = False,
) -> int:
    """A whole number between ``minimum`` and ``maximum`` (inclusive).
    ``unit`` (``"seconds"``, ``"bytes"``) and ``none`` (the option also takes
    ``None``, which the caller handles before calling) only word the message.

    :raises TypeError: For a bool, a float or anything not an int.
    :raises ValueError: For an int out of range.
    """
    accepted = f"a whole number{f' of {unit}' if unit else ''} "
    accepted += _range_words(minimum, maximum, strict=False)
    accepted += " or None" if none else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option}: must be {accepted}, not {_shown(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{option}: must be {accepted}, not {value}")
    return value


def check_seconds(
    option: str, value: object, *, positive: bool = False, none: bool = False
) -> float:
    """A finite number of seconds (int or float), ``> 0`` if ``positive``
    else ``>= 0``. ``none`` words the message, as for :func:`check_int`.

    :raises TypeError: For a bool or anything not an int or a float.
    :raises ValueError: For a negative (or zero, if ``positive``), infinite
        or NaN number.
    """
    accepted = f"a number of seconds {_range_words(0, None, strict=positive)}"
    accepted += " or None" if none else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{option}: must be {accepted}, not {_shown(value)}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{option}: must be {accepted}, not {value!r}")
    return float(value)


def check_strings(option: str, values: object) -> tuple[str, ...]:
    """The items of a list-of-names option, stripped, empty ones dropped:
    ``values`` is an iterable of str, or one str split on commas and
    whitespace (:data:`LIST_FORMS`). Whether an empty list is allowed, and
    what an item may be, is the caller's check.

    :raises TypeError: For bytes, a non-iterable or an item that is not a str.
    """
    if isinstance(values, str):
        return tuple(item for item in _SEPARATORS.split(values) if item)
    if isinstance(values, bytes | bytearray) or not isinstance(values, Iterable):
        raise TypeError(f"{option}: must be {LIST_FORMS}, not {_shown(values)}")
    items = tuple(values)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{option}: must be {LIST_FORMS}, not a list holding {_shown(item)}")
    return tuple(stripped for item in items if (stripped := item.strip()))


def check_items(option: str, values: object, what: str) -> tuple[object, ...]:
    """The items of a list option whose items are not names (keys, classes):
    any iterable but a single str or bytes, which is refused rather than split
    or taken as one item. ``what`` words the items (``"keys"``).

    :raises TypeError: For a str, bytes or a non-iterable.
    """
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Iterable):
        raise TypeError(f"{option}: must be a list of {what}, not {_shown(values)}")
    return tuple(values)


def check_format(option: str, value: object, names: tuple[str, ...]) -> None:
    """A ``format`` option: the name of a built-in format (one of ``names``)
    or a callable that makes the output itself.

    :raises ValueError: For a str that names no built-in format.
    :raises TypeError: For anything else that is not callable.
    """
    if isinstance(value, str):
        if value not in names:
            listed = ", ".join(map(repr, names))
            raise ValueError(f"{option}: must be {listed} or a callable, not {value!r}")
    elif not callable(value):
        raise TypeError(f"{option}: must be a str or a callable, not {type(value).__name__}")


def check_token(option: str, value: object, what: str = "a header name") -> str:
    """A header name, or another RFC 9110 token (``what`` words it: ``"a
    cookie name"``).

    :raises TypeError: For anything not a str.
    :raises ValueError: For a str that is not a token.
    """
    accepted = f"{what} (an RFC 9110 token)"
    if not isinstance(value, str):
        raise TypeError(f"{option}: must be {accepted}, not {_shown(value)}")
    if not TOKEN.fullmatch(value):
        raise ValueError(f"{option}: must be {accepted}, not {_shown(value)}")
    return value


def check_tokens(option: str, values: object, *, wildcard: bool = False) -> tuple[str, ...]:
    """:func:`check_strings`, each item a token (or ``"*"`` if ``wildcard``)."""
    items = check_strings(option, values)
    for item in items:
        if not (wildcard and item == "*") and not TOKEN.fullmatch(item):
            accepted = "header names or methods (RFC 9110 tokens)"
            raise ValueError(f"{option}: must be {accepted}, not {_shown(item)}")
    return items


def check_header_value(option: str, value: object) -> str:
    """Text that can go in a header as it is: latin-1, no CR, LF or other
    control characters (no header injection), not empty; stripped.

    :raises TypeError: For anything not a str.
    :raises ValueError: For empty text, a control character or a character
        outside latin-1.
    """
    accepted = "header text (latin-1, not empty, no CR, LF or other control characters)"
    if not isinstance(value, str):
        raise TypeError(f"{option}: must be {accepted}, not {_shown(value)}")
    text = value.strip()
    if not text or _CONTROL.search(text) or (not text.isascii() and _not_latin1(text)):
        raise ValueError(f"{option}: must be {accepted}, not {_shown(value)}")
    return text


def _not_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False
