"""Information verification (信息核验): claimed fields → match / no match, nothing else."""

from __future__ import annotations

MAX_FIELDS = 50
MATCH, NO_MATCH = "match", "no match"


def flatten(value: dict, prefix: str = "") -> dict[str, object]:
    """``{"holder": {"name": "x"}}`` → ``{"holder.name": "x"}``; lists stay whole values."""
    flat: dict[str, object] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(flatten(item, path + "."))
        else:
            flat[path] = item
    return flat


def same(actual: object, claimed: object) -> bool:
    if isinstance(actual, bool) or isinstance(claimed, bool):
        return actual is claimed
    if isinstance(actual, int | float) and isinstance(claimed, int | float):
        return actual == claimed
    if isinstance(actual, str) and isinstance(claimed, str):
        return actual.strip().upper() == claimed.strip().upper()
    return actual == claimed


def compare(document: dict, claimed: dict) -> dict[str, str]:
    """Each claimed field (dotted path, e.g. ``holder.id_number`` or ``data.name``) → match / no match."""
    actual = flatten(document)
    return {
        path: MATCH if path in actual and same(actual[path], value) else NO_MATCH
        for path, value in flatten(claimed).items()
    }
