"""ceremony.yaml: the CA hierarchy `longtrust init` creates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policies.ceremony import _FILE, load_ceremony

TEST_CEREMONY = Path(__file__).parents[1] / "ceremony-test.yaml"


@pytest.mark.parametrize("path", [None, TEST_CEREMONY])
def test_shipped_ceremonies_load_with_the_region_in_every_subject(path):
    ceremony = load_ceremony(path, "440300")
    ids = [ca.id for ca in ceremony.cas]
    assert len(ids) == len(set(ids)) >= 2
    for ca in ceremony.cas:
        assert "{region}" not in str(ca.subject)
        assert ca.subject.get("OU") == "440300"
        assert ca.parent is None or ids.index(ca.parent) < ids.index(ca.id)
        assert ca.algorithm in ("sm2", "rsa")
    assert 0 < ceremony.ocsp_renew_before_days < ceremony.ocsp_validity_days


def _broken(tmp_path, change) -> Path:
    data = yaml.safe_load(_FILE.read_text())
    change(data)
    path = tmp_path / "ceremony.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["cas"][0].update(key="dsa-1024"), "key must be one of"),
        (lambda d: d["cas"][1].update(parent="nowhere"), "parent 'nowhere' is not defined before it"),
        (lambda d: d["cas"].reverse(), "is not defined before it"),
        (lambda d: d["cas"][0].update(subject={"O": "LongTrust"}), "subject needs CN"),
        (lambda d: d["cas"][0]["subject"].update(E="ca@example.cn"), "subject needs CN and only"),
        (lambda d: d["cas"][0].update(validity_days=0), "validity_days must be positive"),
        (lambda d: d["cas"][0].update(crl_shards=0), "crl_shards must be 1..1024"),
        (lambda d: d["cas"].append(dict(d["cas"][0])), "CA ids in the ceremony must be unique"),
    ],
)
def test_a_broken_ceremony_is_rejected_with_the_reason(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_ceremony(_broken(tmp_path, change))
