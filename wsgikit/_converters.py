"""The generic INI converters: a string from an INI file (or a ``--with``
option) in, a typed option value out, with errors worded one way.

Private: :mod:`wsgikit.paste` re-exports every public name here, and its
factories add the converters specific to one middleware. :func:`convert_options`
applies a schema (option name -> converter) to a section's options.
"""

from __future__ import annotations

import builtins
import os
import pkgutil
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

Converter = Callable[[str], Any]

_TRUE = frozenset({"true", "yes", "on", "y", "t", "1", "enable", "enabled"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0", "disable", "disabled"})
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
#: The start of every "empty value" error, so each one reads the same.
EMPTY = "empty value; leave the option out to get its default"


def asbool(value: str | bool) -> bool:
    """``true/yes/on/y/t/1/enable(d)`` or ``false/no/off/n/f/0/disable(d)``.

    An empty value is refused: ``httponly =`` must not switch a default off.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        raise ValueError(f"{EMPTY} (or write true or false)")
    raise ValueError(f"not a boolean: {value!r} (use true/false, yes/no, on/off, 1/0)")


def asint(value: str | int) -> int:
    """A whole number (``_`` separators allowed, as in Python)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None


def asfloat(value: str | float) -> float:
    """A decimal number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"not a number: {value!r}") from None


def aslist(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """Items separated by whitespace, commas or new lines; empty items dropped."""
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [item for item in re.split(r"[\s,]+", str(value)) if item]


def asduration(value: str | int | float) -> int:
    """Seconds: ``3600``, ``90s``, ``30m``, ``1h``, ``1h30m``, ``2d``, ``1w``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    position = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if text[position : match.start()].strip():
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"not a duration: {value!r} (use seconds, or e.g. 90s, 30m, 1h30m, 2d)")
    return int(total)


def assecret(value: str) -> str:
    """A secret, or ``env:NAME`` to read it from the environment variable ``NAME``."""
    text = str(value)
    if text.startswith("env:"):
        name = text[4:].strip()
        if not name:
            raise ValueError("env: needs a variable name, as in env:SECRET_KEY")
        try:
            secret = os.environ[name]
        except KeyError:
            raise ValueError(f"environment variable {name} is not set") from None
        if not secret.strip():
            raise ValueError(f"environment variable {name} is empty")
        return secret
    return text


def asimport(value: str | Any) -> Any:
    """A dotted name, ``package.module:attr`` (or ``package.module.attr``), imported."""
    if not isinstance(value, str):
        return value
    try:
        return pkgutil.resolve_name(value.strip())
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"cannot import {value!r} ({error})") from None


def ascallable(value: str | Callable[..., Any]) -> Callable[..., Any]:
    """Like :func:`asimport`, and the result must be callable."""
    target = asimport(value)
    if not callable(target):
        raise ValueError(f"{value!r} is not callable")
    return cast(Callable[..., Any], target)


def asints(value: str | list[str]) -> list[int]:
    """Whole numbers separated by whitespace or commas."""
    return [asint(item) for item in aslist(value)]


def asexception(value: str | type[BaseException]) -> type[BaseException]:
    """An exception class: a builtin name (``TimeoutError``) or ``module:Class``."""
    if isinstance(value, type) and issubclass(value, BaseException):
        return value
    text = str(value).strip()
    found = getattr(builtins, text, None) if text.isidentifier() else None
    if found is None:
        try:
            found = pkgutil.resolve_name(text)
        except (ImportError, AttributeError, ValueError) as error:
            raise ValueError(
                f"cannot import {text!r} ({error}); write a builtin exception without "
                "a module (TimeoutError) and any other as module:Class"
            ) from None
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ValueError(f"{text!r} is not an exception class")
    return found


#: Converters that read the word ``none`` themselves (as Python ``None``, or
#: refused with a better hint); for any other converter,
#: :func:`convert_options` refuses ``none`` before calling it.
READS_NONE: set[Converter] = set()


def asoptional(convert: Converter) -> Converter:
    """``convert``, but ``none`` means ``None``. An empty value is refused:
    ``None`` often means something else than the default (no limit, no
    expiry, turned off), so it has to be asked for by name."""

    def optional(value: str) -> Any:
        text = str(value).strip()
        if not text:
            raise ValueError(f"{EMPTY} (or write none)")
        return None if text.lower() == "none" else convert(value)

    optional.__doc__ = f"{spelling(convert)} ``none``: None."
    READS_NONE.add(optional)
    return optional


def asnonempty(convert: Converter) -> Converter:
    """``convert``, but an empty value is refused (where an empty list would
    mean something else than the default)."""

    def nonempty(value: str) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError(EMPTY)
        return convert(value)

    nonempty.__doc__ = f"{spelling(convert)} Not empty."
    return nonempty


def spelling(convert: Converter) -> str:
    """How an option is written in an INI file: the converter's first doc line."""
    if convert is str:
        return "Text, as written."
    # The first paragraph on one line: its sentence may wrap in the docstring.
    return " ".join((convert.__doc__ or convert.__name__).strip().split("\n\n")[0].split())


class OptionError(ValueError):
    """An INI option (or ``--with`` option) that cannot be used.

    ``str()`` names the filter and the option; ``wsgikit serve``/``check`` add
    the file and section, which a PasteDeploy factory is never told.
    """

    # Its public home: tracebacks and the docs' inventory name it
    # wsgikit.paste.OptionError, as before the converters moved here.
    __module__ = "wsgikit.paste"

    def __init__(self, factory: str, option: str | None, message: str) -> None:
        self.factory = factory
        self.option = option
        self.message = message
        where = f"[{factory}] option {option}:" if option else f"[{factory}]"
        super().__init__(f"{where} {message}")


def convert_options(
    factory: str, local_conf: Mapping[str, Any], schema: Mapping[str, Converter]
) -> dict[str, Any]:
    """Convert ``local_conf`` by ``schema``; unknown or bad options raise :class:`OptionError`."""
    unknown = sorted(set(local_conf) - set(schema))
    if unknown:
        raise OptionError(
            factory,
            None,
            f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(schema))}",
        )
    options: dict[str, Any] = {}
    for name, value in local_conf.items():
        convert = schema[name]
        # One meaning for the word in every option (Python None), never text,
        # False or a list: refused where the option takes no None.
        none = isinstance(value, str) and value.strip().lower() == "none"
        if none and convert not in READS_NONE:
            raise OptionError(factory, name, "none (None) is not accepted here; leave it out")
        try:
            options[name] = schema[name](value)
        except (TypeError, ValueError) as error:
            raise OptionError(factory, name, str(error)) from None
    return options
