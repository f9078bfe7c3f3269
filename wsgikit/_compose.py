"""Build a middleware stack in Python, in the order a request meets it."""

from __future__ import annotations

from collections.abc import Callable
from wsgiref.types import WSGIApplication

Layer = Callable[[WSGIApplication], WSGIApplication]


def compose(app: WSGIApplication, *layers: Layer) -> WSGIApplication:
    """Wrap ``app`` in ``layers``; the first layer is the outermost one.

    A layer is any callable ``app -> app``: a middleware class with its options
    bound (``functools.partial(ProxyFix, x_for=2)``), a PasteDeploy filter, or a
    plain function. The order is that of a PasteDeploy ``pipeline``: a request
    meets the first layer first and the application last.

    :param app: The WSGI application at the bottom of the stack.
    :param layers: Callables that each take an application and return one.

    .. code-block:: python

        app = compose(flask_app, partial(ProxyFix, x_for=1), JSONErrors)
        # == ProxyFix(JSONErrors(flask_app), x_for=1)
    """
    for position, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(
                f"compose(): layer {position} is {type(layer).__name__}, not a callable app -> app"
            )
    for layer in reversed(layers):
        app = layer(app)
    return app
