"""wsgikit: composable, framework-agnostic WSGI (PEP 3333) middlewares."""

from __future__ import annotations

from ._compose import compose as compose

__all__ = ["compose"]
