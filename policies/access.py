"""Access rules as data: which roles may perform which action, and which operations need a second
operator (dual control)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

_FILE = Path(__file__).with_name("access.yaml")


class AccessPolicy:
    def __init__(
        self,
        roles: list[str],
        actions: dict[str, list[str]],
        dual_control: list[str] = (),
        admin_roles: list[str] = (),
    ):
        unknown = {r for allowed in actions.values() for r in allowed} | set(admin_roles)
        unknown -= set(roles)
        if unknown:
            raise ValueError(f"access.yaml names unknown roles: {sorted(unknown)}")
        self.roles = frozenset(roles)
        self._actions = {a: frozenset(r) for a, r in actions.items()}
        self.dual_control = frozenset(dual_control)
        self.admin_roles = frozenset(admin_roles)

    def allows(self, role: str, action: str) -> bool:
        if action not in self._actions:
            raise KeyError(f"no access rule for action {action!r}")
        return role in self._actions[action]

    def needs_second_operator(self, operation: str) -> bool:
        """True when ``operation`` (e.g. ``seal.create``) must be approved by a different operator."""
        return operation in self.dual_control


@lru_cache(maxsize=1)
def access_policy() -> AccessPolicy:
    data = yaml.safe_load(_FILE.read_text())
    return AccessPolicy(
        data["roles"], data["actions"], data.get("dual_control") or [], data.get("admin_roles") or []
    )
