"""access.yaml: roles, the actions each may perform, and the operations under dual control."""

from __future__ import annotations

import pytest
import yaml

from policies.access import _FILE, AccessPolicy, access_policy


def test_the_shipped_policy_loads_and_names_only_its_roles():
    policy = access_policy()
    assert "security-admin" in policy.roles
    assert policy.admin_roles <= policy.roles
    assert policy.allows("security-admin", "key.manage")
    assert not policy.allows("verifier", "key.manage")
    assert policy.needs_second_operator("ca.create")
    assert not policy.needs_second_operator("ca.issue")


def test_every_role_may_do_something_and_every_action_has_a_role():
    data = yaml.safe_load(_FILE.read_text())
    policy = access_policy()
    for action, roles in data["actions"].items():
        assert roles, action
        assert all(policy.allows(role, action) for role in roles)
    for role in data["roles"]:
        assert any(policy.allows(role, action) for action in data["actions"]), role


def test_an_unknown_action_is_refused_not_allowed():
    with pytest.raises(KeyError, match="no access rule for action 'ca.juggle'"):
        access_policy().allows("security-admin", "ca.juggle")


@pytest.mark.parametrize(
    "actions, admin_roles",
    [({"ca.read": ["auditor", "root"]}, []), ({"ca.read": ["auditor"]}, ["superuser"])],
)
def test_a_policy_naming_an_unknown_role_is_rejected(actions, admin_roles):
    with pytest.raises(ValueError, match="access.yaml names unknown roles"):
        AccessPolicy(["auditor"], actions, admin_roles=admin_roles)
