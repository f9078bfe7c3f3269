"""Build a middleware stack in Python, and check the order of wsgikit's layers.

Some of wsgikit's layers only work in one order relative to each other: an
:class:`~wsgikit.InjectHTML` outside :class:`~wsgikit.Compress` never sees an
uncompressed body, a :class:`~wsgikit.BasicAuth` outside
:class:`~wsgikit.JSONErrors` answers its 401 in plain text. :data:`ORDER_RULES`
lists every such pair with what goes wrong; :func:`compose`, the PasteDeploy
factories, ``wsgikit serve`` and ``wsgikit check`` all check a stack against it.
Rules name classes, so a rule about a layer that is not installed never fires.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from wsgiref.types import WSGIApplication

Layer = Callable[[WSGIApplication], WSGIApplication]


class StackOrderWarning(UserWarning):
    """Two wsgikit layers are stacked in an order in which one of them misbehaves."""


@dataclass(frozen=True)
class OrderRule:
    """``outer`` must wrap ``inner``; ``consequence`` says what happens otherwise."""

    outer: str
    inner: str
    consequence: str

    def message(self) -> str:
        """The warning for a stack in which ``inner`` wraps ``outer``."""
        return (
            f"{self.inner} wraps {self.outer}: {self.consequence} "
            f"(put {self.outer} outside {self.inner})"
        )


#: The recommended order, outermost first (a request meets them in this order).
#: Layers not listed here may go anywhere; every rule below agrees with it.
RECOMMENDED_ORDER = (
    "RequestID",
    "AccessLog",
    "FakeForwardedFor",
    "ProxyFix",
    "SecurityHeaders",
    "CORS",
    "JSONErrors",
    "TrustedHosts",
    "MaxBodySize",
    "Compress",
    "SessionMiddleware",
    "AuthParser",
    "BasicAuth",
    "BearerAuth",
    "InjectHTML",
    "BodyRewriter",
)

# What each layer answers by itself (RequestID must be outside to put its ID
# on these, AccessLog outside to log them).
_OWN_ANSWERS = {
    "SecurityHeaders": "https redirects",
    "CORS": "preflight answers",
    "TrustedHosts": "400s for unknown hosts",
    "MaxBodySize": "413s",
    "BasicAuth": "401s",
    "BearerAuth": "401s",
}

#: Every known-wrong pair. One row per pair: add a row for a new layer.
ORDER_RULES: tuple[OrderRule, ...] = (
    OrderRule(
        "Compress",
        "InjectHTML",
        "InjectHTML will only ever see compressed bodies and will not inject",
    ),
    OrderRule(
        "Compress",
        "BodyRewriter",
        "BodyRewriter will only ever see compressed bodies and will not rewrite them",
    ),
    OrderRule(
        "JSONErrors", "BasicAuth", "BasicAuth's 401 never reaches JSONErrors and stays plain text"
    ),
    OrderRule(
        "JSONErrors", "BearerAuth", "BearerAuth's 401 never reaches JSONErrors and stays plain text"
    ),
    OrderRule(
        "JSONErrors",
        "BodyRewriter",
        "the 500 for a failing rewrite never reaches JSONErrors and stays plain text",
    ),
    OrderRule(
        "FakeForwardedFor",
        "ProxyFix",
        "ProxyFix runs before the fake X-Forwarded-For exists, so the app sees the peer "
        "address, not real_ip",
    ),
    OrderRule(
        "ProxyFix",
        "BasicAuth",
        "BasicAuth logs failed logins with the proxy's address instead of the client's",
    ),
    OrderRule(
        "ProxyFix",
        "BearerAuth",
        "BearerAuth logs rejected tokens with the proxy's address instead of the client's",
    ),
    # The edge layers (#13).
    OrderRule(
        "RequestID",
        "JSONErrors",
        "the errors JSONErrors makes from exceptions go out without the request ID header "
        "(only their problem body names the ID)",
    ),
    OrderRule(
        "RequestID",
        "BodyRewriter",
        "BodyRewriter's 500 for a failing rewrite goes out without the request ID",
    ),
    *(
        OrderRule("RequestID", name, f"{name}'s own {answers} go out without the request ID")
        for name, answers in _OWN_ANSWERS.items()
    ),
    *(
        OrderRule("AccessLog", name, f"{name}'s own {answers} are never logged")
        for name, answers in _OWN_ANSWERS.items()
    ),
    OrderRule(
        "AccessLog",
        "JSONErrors",
        "AccessLog logs an exception JSONErrors answers as a 500, whatever status the client gets",
    ),
    *(
        OrderRule(
            "AccessLog",
            name,
            f"AccessLog counts the body before {name} changed it, not the bytes sent",
        )
        for name in ("Compress", "InjectHTML", "BodyRewriter")
    ),
    OrderRule(
        "ProxyFix",
        "TrustedHosts",
        "TrustedHosts checks the proxy's Host header, not the forwarded host the app will "
        "see, and refuses requests for a listed host",
    ),
    OrderRule(
        "ProxyFix",
        "SecurityHeaders",
        "behind a TLS proxy every request looks like plain http to https_redirect, which "
        "redirects https clients to the URL they asked for, forever",
    ),
    OrderRule(
        "CORS",
        "BasicAuth",
        "preflight requests carry no credentials, get BasicAuth's 401, and the browser "
        "refuses the real request",
    ),
    OrderRule(
        "CORS",
        "BearerAuth",
        "preflight requests carry no credentials, get BearerAuth's 401, and the browser "
        "refuses the real request",
    ),
    OrderRule(
        "CORS",
        "JSONErrors",
        "the errors JSONErrors makes from exceptions carry no CORS headers, so the browser "
        "hides them from the page",
    ),
    OrderRule(
        "CORS",
        "MaxBodySize",
        "MaxBodySize's 413 carries no CORS headers, so the browser hides it from the page "
        "(an upload fails as a network error)",
    ),
    OrderRule(
        "SecurityHeaders",
        "JSONErrors",
        "the errors JSONErrors makes from exceptions carry no security headers",
    ),
    OrderRule(
        "JSONErrors",
        "TrustedHosts",
        "TrustedHosts' 400 never reaches JSONErrors and stays plain text",
    ),
    OrderRule(
        "JSONErrors",
        "MaxBodySize",
        "MaxBodySize's 413 never reaches JSONErrors and stays plain text",
    ),
)

_RULES_BY_PAIR = {(rule.inner, rule.outer): rule for rule in ORDER_RULES}


def compose(app: WSGIApplication, *layers: Layer, strict: bool = False) -> WSGIApplication:
    """Wrap ``app`` in ``layers``; the first layer is the outermost one.

    A layer is any callable ``app -> app``: a middleware class with its options
    bound (``functools.partial(ProxyFix, x_for=2)``), a PasteDeploy filter, or a
    plain function. The order is that of a PasteDeploy ``pipeline``: a request
    meets the first layer first and the application last.

    The finished stack is checked against :data:`ORDER_RULES`: a known-wrong
    pair of wsgikit layers (say ``InjectHTML`` outside ``Compress``) gives a
    :class:`StackOrderWarning` naming both and what will go wrong.

    :param app: The WSGI application at the bottom of the stack.
    :param layers: Callables that each take an application and return one.
    :param strict: Raise :class:`ValueError` for a wrong order instead of
        warning. A bool (anything else is a :class:`TypeError`: ``"no"`` would
        otherwise count as true).

    .. code-block:: python

        app = compose(flask_app, partial(ProxyFix, x_for=1), JSONErrors)
        # == ProxyFix(JSONErrors(flask_app), x_for=1)
    """
    if not isinstance(strict, bool):
        raise TypeError(f"compose(): strict must be a bool, not {type(strict).__name__}")
    for position, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(
                f"compose(): layer {position} is {type(layer).__name__}, not a callable app -> app"
            )
    built: list[object] = []
    inner = app
    for layer in reversed(layers):
        inner = layer(inner)
        built.append(inner)
    # What compose() built (exact, even for layers without .app), then whatever
    # stack ``app`` itself already was.
    report(order_problems([*reversed(built), *stack_of(app)]), strict=strict, stacklevel=3)
    return inner


def stack_of(app: object) -> list[object]:
    """The layers of a finished stack, outermost first, following ``.app`` (and a
    Flask-style ``.wsgi_app`` replaced by a middleware).

    The last item is the object that has no callable ``.app``: the application
    (or a middleware that does not expose what it wraps).
    """
    chain: list[object] = []
    seen: set[int] = set()
    current: object = app
    while id(current) not in seen and len(chain) < 256:
        seen.add(id(current))
        chain.append(current)
        inner = getattr(current, "app", None)
        if inner is None:
            # Flask's pattern: ``flask_app.wsgi_app = ProxyFix(flask_app.wsgi_app)``
            # (a bound method there means nothing was wrapped).
            wrapped = getattr(current, "wsgi_app", None)
            inner = None if inspect.ismethod(wrapped) else wrapped
        if inner is None or not callable(inner):
            break
        current = inner
    return chain


def layer_name(layer: object) -> str | None:
    """The class name the rules know a wsgikit layer by; ``None`` for others."""
    cls = type(layer)
    return cls.__name__ if cls.__module__.split(".")[0] == "wsgikit" else None


def order_problems(chain: Sequence[object], *, outermost_only: bool = False) -> list[str]:
    """Every known-wrong pair in ``chain`` (outermost first), as messages.

    With ``outermost_only``, only pairs whose outer layer is ``chain[0]`` (a
    PasteDeploy factory checks the layer it has just added).
    """
    names = [layer_name(layer) for layer in chain]
    problems: list[str] = []
    for index, outer in enumerate(names[:1] if outermost_only else names):
        for inner in names[index + 1 :]:
            rule = _RULES_BY_PAIR.get((outer or "", inner or ""))
            if rule is not None and rule.message() not in problems:
                problems.append(rule.message())
    return problems


def report(problems: Iterable[str], *, strict: bool = False, stacklevel: int = 2) -> None:
    """Warn (:class:`StackOrderWarning`) for each problem, or raise the first one."""
    for problem in problems:
        if strict:
            raise ValueError(problem)
        warnings.warn(problem, StackOrderWarning, stacklevel=stacklevel + 1)
