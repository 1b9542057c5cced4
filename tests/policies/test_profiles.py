"""profiles.yaml: the shipped certificate profiles are consistent; broken files fail at load."""

from __future__ import annotations

import pytest
import yaml

from policies.profiles import DEFAULT_PATH, EXTENDED_KEY_USAGES, KEY_USAGES, ProfileError, load_profiles


def test_shipped_profiles_load_and_are_consistent():
    profiles = load_profiles()
    assert {"root-ca", "issuing-ca", "ocsp-responder", "tsa", "organization-signing"} <= set(profiles)
    for profile in profiles.values():
        assert profile.algorithms and set(profile.key_usage) == set(profile.algorithms)
        assert all(set(usages) <= set(KEY_USAGES) for usages in profile.key_usage.values())
        assert set(profile.extended_key_usage) <= set(EXTENDED_KEY_USAGES)
        assert set(profile.subject_required) <= set(profile.subject_allowed)
        assert profile.ca == ("keyCertSign" in profile.key_usage_for(profile.algorithms[0]))
        if profile.encryption_pair:
            assert not profiles[profile.encryption_pair].ca


def test_the_templates_are_merged_into_each_profile():
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    for name, body in raw["profiles"].items():
        assert load_profiles()[name].max_validity_days == body["max_validity_days"]


def test_a_profile_pairing_with_a_ca_profile_is_rejected(tmp_path):
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["profiles"]["organization-signing"]["encryption_pair"] = "issuing-ca"
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match="organization-signing: encryption_pair must name an end-entity"):
        load_profiles(path)


@pytest.mark.parametrize(
    "text, message",
    [("profiles: [", "cannot read"), ("profiles: {}\n", "non-empty mapping"), ("other: 1\n", "top level")],
)
def test_unreadable_or_empty_files_are_rejected(tmp_path, text, message):
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profiles(path)
