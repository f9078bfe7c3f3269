"""A module that fails while being imported (for ``wsgikit serve`` errors)."""

from __future__ import annotations

1 / 0  # noqa: B018
