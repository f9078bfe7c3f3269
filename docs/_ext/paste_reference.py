"""Placeholder replaced once the factory table lands."""

from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    return {"parallel_read_safe": True}
