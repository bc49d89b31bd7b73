"""JSON at the storage boundary: the one name for a stored JSON object.

Typed records (a proposal's change and effect, an event's payload) turn into a `JsonObject`
with their `to_json` and back with their `from_json`; nothing else handles the raw dict.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as the database's JSON columns store it."""


def int_or_none(value: int | float | str | None) -> int | None:
    """A stored number that may be missing (None), as an int."""
    return None if value is None else int(value)


def float_or_none(value: int | float | str | None) -> float | None:
    return None if value is None else float(value)


def without_none(data: JsonObject) -> JsonObject:
    """A flat record as JSON with its empty (None) fields left out."""
    return {k: v for k, v in data.items() if v is not None}
