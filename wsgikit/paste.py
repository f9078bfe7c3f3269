"""PasteDeploy filter factories: INI strings in, typed middleware options out.

Each factory is registered under the ``paste.filter_app_factory`` entry point
group, so an INI pipeline says ``use = egg:wsgikit#proxy_fix``. Option names
are the constructor's keyword names; values are converted by the generic
converters (``asbool``, ``aslist`` ..., kept in ``wsgikit._converters`` and
importable from here) or by the few below that belong to one middleware,
unknown options are rejected with a ``ValueError`` naming them, and a secret
may be written ``env:NAME`` to read it from the environment.

An empty value (``option =``) is refused wherever it would not simply mean
the default: in an INI file, leave an option out to get its default, and
spell out ``none``, ``false`` or ``off`` where that is what you mean.

``none`` has one meaning in every option: Python ``None``. An option whose
constructor takes ``None`` converts it so (its converter is
:func:`asoptional`); every other option refuses it with an error naming the
option, rather than read it as text, ``False`` or a list. So the SameSite
*value* ``None`` is spelled with quotes, as in Python: ``samesite = "None"``.

This module holds the factory table and its converters only: no middleware logic.
:data:`FACTORIES` is the one list of filters: ``setup.py``'s entry points,
``wsgikit serve --with`` and the documentation are checked against it, and an
entry point such as ``wsgikit.paste:proxy_fix`` is looked up in it.

.. code-block:: ini

    [pipeline:main]
    pipeline = proxy json_errors myapp

    [filter:proxy]
    use = egg:wsgikit#proxy_fix
    trusted = 10.0.0.0/8 192.168.0.0/16
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from wsgiref.types import WSGIApplication

from ._compose import order_problems, report, stack_of
from ._converters import EMPTY, READS_NONE, Converter
from ._converters import OptionError as OptionError
from ._converters import asbool as asbool
from ._converters import ascallable as ascallable
from ._converters import asduration as asduration
from ._converters import asexception as asexception
from ._converters import asfloat as asfloat
from ._converters import asimport as asimport
from ._converters import asint as asint
from ._converters import asints as asints
from ._converters import aslist as aslist
from ._converters import asnonempty as asnonempty
from ._converters import asoptional as asoptional
from ._converters import assecret as assecret
from ._converters import convert_options as convert_options
from ._converters import spelling as spelling
from .access_log import AccessLog
from .auth import AuthParser, BasicAuth, BearerAuth
from .body_size import MaxBodySize
from .compress import Compress
from .cors import CORS
from .errors import JSONErrors
from .hosts import TrustedHosts
from .http_proxy import HTTPProxy
from .inject_html import InjectHTML
from .proxy import FakeForwardedFor, ProxyFix
from .request_id import RequestID
from .rewrite import BodyRewriter
from .security import SecurityHeaders
from .sessions import SessionMiddleware
from .stores import MemoryStore, RedisStore, SessionStore


@dataclass(frozen=True)
class Factory:
    """One PasteDeploy filter: the middleware class and its INI option schema.

    An instance is the ``paste.filter_app_factory`` itself:
    ``factory(app, global_conf, **local_conf)`` converts every option by
    :attr:`options` (option name -> converter), refuses unknown ones, reports a
    missing required option, and builds the middleware. Errors are
    :class:`OptionError` naming the filter and, where it can be told, the option.
    """

    #: The entry point name (``egg:wsgikit#<name>``).
    name: str
    #: The middleware class, called as ``middleware(app, **options)``.
    middleware: Callable[..., WSGIApplication]
    #: INI option name -> converter from the INI string; names are the
    #: constructor's keyword names (checked by the tests).
    options: Mapping[str, Converter] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        """Options the constructor has no default for."""
        parameters = list(inspect.signature(self.middleware).parameters.values())[1:]
        return tuple(p.name for p in parameters if p.default is inspect.Parameter.empty)

    def reference(self) -> list[tuple[str, str, str]]:
        """``(option, INI spelling, default)`` per option: the PasteDeploy reference."""
        parameters = inspect.signature(self.middleware).parameters
        rows = []
        for name, convert in self.options.items():
            default = parameters[name].default
            shown = "required" if default is inspect.Parameter.empty else repr(default)
            rows.append((name, spelling(convert), shown))
        return rows

    def convert(self, local_conf: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor's keyword arguments for ``local_conf`` (INI strings)."""
        options = convert_options(self.name, local_conf, self.options)
        for name in self.required:
            if name not in options:
                raise OptionError(self.name, name, "is required")
        return options

    def __call__(
        self, app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: Any
    ) -> WSGIApplication:
        options = self.convert(local_conf)
        try:
            middleware = self.middleware(app, **options)
        except (TypeError, ValueError) as error:
            raise _option_error(self.name, options, error) from None
        # A pipeline is built from the app outwards: check this layer against
        # everything already below it (each pair is checked once).
        report(order_problems(stack_of(middleware), outermost_only=True), stacklevel=2)
        return middleware


def _option_error(factory: str, options: Mapping[str, Any], error: Exception) -> OptionError:
    """A constructor's error as an :class:`OptionError`. The constructor names
    the option in its message (house style); keep that option for a caller
    that wants to point at the INI line."""
    message = str(error)
    named = [n for n in options if re.search(rf"\b{re.escape(n)}\b", message)]
    option = named[0] if named else None
    if option is not None and message.startswith(f"{option}: "):
        message = message[len(option) + 2 :]  # "[f] option x: x: must be..." says x once
    return OptionError(factory, option, message)


# --- converters specific to one middleware ----------------------------------------


def _ashops(value: str | int) -> int:
    """A hop count, or ``true``/``yes``/``on`` for 1 and ``false``/``no``/``off`` for 0."""
    words = {"true": 1, "yes": 1, "on": 1, "false": 0, "no": 0, "off": 0}
    hops = words.get(str(value).strip().lower())
    return asint(value) if hops is None else hops


def _errors_asformat(value: str) -> Any:
    """``problem``, ``simple``, or a dotted ``module:function`` formatter."""
    return _format_or_callable(value, ("problem", "simple"))


def _errors_asexceptions(value: str) -> dict[type[BaseException], int]:
    """``Class=status`` items: ``TimeoutError=504 myapp.errors:Busy=503``."""
    mapping: dict[type[BaseException], int] = {}
    for item in aslist(value):
        name, equals, status = item.rpartition("=")
        if not equals:
            raise ValueError(
                f"{item!r} is not Class=status (TimeoutError=504, module:Class=status)"
            )
        mapping[asexception(name)] = asint(status)
    return mapping


def _errors_astypes(value: str) -> dict[int, str]:
    """``status=URI`` items: ``404=https://example.com/problems/not-found``."""
    types: dict[int, str] = {}
    for item in aslist(value):
        status, equals, uri = item.partition("=")
        if not equals:
            raise ValueError(f"{item!r} is not status=URI")
        types[asint(status)] = uri
    return types


def _assecrets(value: str | list[str]) -> list[str]:
    """Secrets, one per line (a key may hold spaces and commas), each possibly ``env:NAME``."""
    if isinstance(value, list | tuple):
        return [assecret(item) for item in value]
    return [assecret(line.strip()) for line in str(value).splitlines() if line.strip()]


def _assamesite(value: str) -> str | None:
    """``Strict``, ``Lax`` or ``"None"`` (quoted: the SameSite value); ``off``: no attribute."""
    text = str(value).strip()
    if not text:
        raise ValueError(f'{EMPTY} (Lax); write Strict, Lax, "None", or off for no attribute')
    if text in ('"None"', "'None'"):
        return "None"
    if text.lower() in ("none", '"none"', "'none'"):
        # A bare none is Python None everywhere else; for this option it once
        # meant SameSite=None, so neither reading is guessed.
        raise ValueError('write "None" (quoted) for SameSite=None, or off for no attribute')
    return None if text.lower() in ("false", "off", "no") else text


READS_NONE.add(_assamesite)


def _asstore(value: str) -> SessionStore | None:
    """``none`` (data in the cookie), ``memory``, or a ``redis://`` URL (may be ``env:NAME``)."""
    text = assecret(str(value).strip()) if str(value).strip() else ""
    if text.lower() == "none":
        return None
    if text.lower() == "memory":
        return MemoryStore()
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(text)
    # The value is not echoed: a Redis URL may carry a password.
    raise ValueError("expected none, memory or a redis://, rediss:// or unix:// URL")


READS_NONE.add(_asstore)


def _proxy_astrusted(value: str | list[str]) -> list[str]:
    """Addresses/CIDRs. Empty gives no networks, which ProxyFix refuses, as
    it refuses ``none``: leaving ``trusted`` out is the only way to count hops."""
    return aslist(value)


def _auth_asusers(value: str | Mapping[str, str]) -> dict[str, str]:
    """``name:hash`` items separated by spaces, commas or new lines."""
    if isinstance(value, Mapping):
        return dict(value)
    users: dict[str, str] = {}
    if not str(value).strip():
        raise ValueError("empty value; name at least one name:hash")
    for item in aslist(value):
        name, colon, hashed = item.partition(":")
        if not colon:
            raise ValueError(f"{item[:20]!r}... is not name:hash")
        if name in users:
            raise ValueError(f"user {name!r} is listed twice")
        users[name] = hashed
    return users


def _asexceptions(value: str) -> tuple[type[BaseException], ...]:
    """Exception classes: builtin names or ``module:Class``."""
    return tuple(asexception(item) for item in aslist(value))


def _asheader(value: str | bool | None) -> str | None | bool:
    """A header value, or ``none``/``false``/``off`` to switch the header off."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip()
    if not text:
        raise ValueError(f"{EMPTY} (or write off to send no such header)")
    return None if text.lower() in ("none", "false", "off", "no") else text


READS_NONE.add(_asheader)


def _access_asformat(value: str) -> Any:
    """``combined``, ``json``, or a dotted ``module:function`` formatter."""
    return _format_or_callable(value, ("combined", "json"))


def _format_or_callable(value: str, names: tuple[str, str]) -> Any:
    """One of the two ``names``, or a ``module:function`` (any other word is
    refused by what it may be, not reported as "not callable")."""
    text = str(value).strip()
    if text in names:
        return text
    if ":" not in text and "." not in text:
        raise ValueError(f"format must be {names[0]}, {names[1]} or module:function, not {text!r}")
    return ascallable(text)


# --- the factory table ------------------------------------------------------------
# One row per filter. Adding a filter: a row here, its entry point in setup.py
# (tests/test_paste.py checks both against each other and the constructor).

_REWRITE_COMMON: dict[str, Converter] = {
    "content_types": aslist,
    "buffer_limit": asoptional(asint),
    "statuses": asoptional(asints),
}

FACTORIES: dict[str, Factory] = {
    factory.name: factory
    for factory in (
        Factory(
            "fake_forwarded_for",
            FakeForwardedFor,
            {
                "real_ip": str,
                "proxies": aslist,
                "override": asbool,
                "proto": asoptional(str),
                "host": asoptional(str),
                "port": asoptional(asint),
                "prefix": asoptional(str),
                "forwarded": asbool,  # send a Forwarded header (proxy_fix: a hop count)
            },
        ),
        Factory(
            "proxy_fix",
            ProxyFix,
            {
                "x_for": _ashops,
                "x_proto": _ashops,
                "x_host": _ashops,
                "x_port": _ashops,
                "x_prefix": _ashops,
                "trusted": _proxy_astrusted,
                "forwarded": _ashops,
                "clear_untrusted": asbool,
            },
        ),
        Factory(
            "rewrite",
            BodyRewriter,
            {"rewrite": ascallable, "stream": ascallable, **_REWRITE_COMMON},
        ),
        Factory("inject_html", InjectHTML, {"snippet": str, "marker": str, **_REWRITE_COMMON}),
        Factory(
            "compress",
            Compress,
            {
                "min_size": asint,
                "level": asint,
                "encodings": aslist,
                "content_types": aslist,
                "buffer_limit": asint,
                "flush_size": asint,
                "flush_types": asnonempty(aslist),
                "brotli_quality": asint,
                "zstd_level": asint,
                "backend": asoptional(str),
            },
        ),
        Factory(
            "json_errors",
            JSONErrors,
            {
                "format": _errors_asformat,
                "debug": asbool,
                "negotiate": asbool,
                "exceptions": _errors_asexceptions,
                "duck_typing": asbool,
                "request_id_header": asoptional(str),
                "types": _errors_astypes,
                "content_type": asoptional(str),
            },
        ),
        Factory(
            "session",
            SessionMiddleware,
            {
                "secret_key": assecret,
                "fallback_keys": _assecrets,  # one key per line: a key may hold spaces
                "cookie_name": str,
                "max_age": asoptional(asduration),
                "secure": asbool,
                "httponly": asbool,
                "samesite": _assamesite,  # "None" (quoted) is SameSite=None; "off": no attribute
                "domain": asoptional(str),
                "path": str,
                "partitioned": asbool,
                "salt": asoptional(str),
                "digest": asoptional(str),
                "flask_compatible": asbool,
                "refresh_each_request": asbool,
                "serializer": asoptional(asimport),
                "oversize": str,  # error or log
                "store": _asstore,  # none, memory or a redis:// URL
                "permanent": asbool,
                "detect_changes": asbool,
            },
        ),
        Factory("auth", AuthParser),
        Factory(
            "basic_auth",
            BasicAuth,
            {
                "users": _auth_asusers,
                "verify": ascallable,
                "htpasswd": asnonempty(str),
                "realm": str,
                "exempt": aslist,
                "reload_interval": asoptional(asfloat),
                "cache_ttl": asfloat,
                "cache_size": asint,
            },
        ),
        Factory(
            "bearer_auth",
            BearerAuth,
            {"verify": ascallable, "realm": str, "invalid_token_errors": _asexceptions},
        ),
        Factory(
            "cors",
            CORS,
            {
                "allow_origins": aslist,
                "allow_origin_regex": asoptional(str),
                "allow_methods": aslist,
                "allow_headers": aslist,
                "expose_headers": aslist,
                "allow_credentials": asbool,
                "max_age": asoptional(asduration),
                "allow_private_network": asbool,
            },
        ),
        Factory("trusted_hosts", TrustedHosts, {"hosts": aslist, "www_redirect": asbool}),
        Factory(
            "security_headers",
            SecurityHeaders,
            {
                "hsts": _asheader,
                "content_type_options": asbool,
                "frame_options": _asheader,
                "referrer_policy": _asheader,
                "csp": _asheader,
                "permissions_policy": _asheader,
                "coop": _asheader,
                "https_redirect": asbool,
            },
        ),
        Factory(
            "request_id",
            RequestID,
            {"header": str, "trust_incoming": asbool, "generator": ascallable},
        ),
        Factory("access_log", AccessLog, {"logger": str, "format": _access_asformat}),
        Factory("max_body_size", MaxBodySize, {"limit": asint}),
    )
}


# --- the forwarding proxy: an application, not a filter (paste.app_factory) ---------


def _asverify(value: str | bool) -> bool | str:
    """A boolean, or the path of a CA bundle file."""
    try:
        return asbool(value)
    except ValueError:
        return str(value)


HTTP_PROXY_OPTIONS: dict[str, Converter] = {
    "upstream": str,
    "timeout": asfloat,
    "pool_size": asint,
    "preserve_host": asbool,
    "trust_env": asbool,
    "rewrite_location": asbool,
    "rewrite_cookies": asbool,
    "verify": _asverify,
}


def http_proxy(global_conf: Mapping[str, Any], **local_conf: Any) -> WSGIApplication:
    """``use = egg:wsgikit#http_proxy``, an app factory: :class:`wsgikit.http_proxy.HTTPProxy`.

    ``upstream`` (required, a URL), ``timeout`` (seconds, a decimal number),
    ``pool_size`` (a whole number), ``preserve_host``, ``trust_env``,
    ``rewrite_location``, ``rewrite_cookies`` (booleans), ``verify`` (a boolean
    or the path of a CA bundle file).
    """
    options = convert_options("http_proxy", local_conf, HTTP_PROXY_OPTIONS)
    if "upstream" not in options:
        raise OptionError("http_proxy", "upstream", "is required (the URL to forward to)")
    try:
        return HTTPProxy(**options)
    except (TypeError, ValueError) as error:
        raise _option_error("http_proxy", options, error) from None


def __getattr__(name: str) -> Factory:
    # Entry points (``wsgikit.paste:proxy_fix``) and ``use = call:wsgikit.paste:...``
    # name a factory as an attribute of this module: serve it from the table.
    try:
        return FACTORIES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
