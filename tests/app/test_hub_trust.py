"""Other regions' anchors from the hub's trust list: the version caches compare is a digest taken
when the list is read, and it moves when (and only when) the anchors change."""

from __future__ import annotations

import hashlib
import time

from asn1crypto import pem

from app.trust import HubTrustList
from tests.app.test_standalone import _anchor, _signed


class Hub:
    """Answers the trust list it was last given, counting the reads."""

    def __init__(self, document: dict):
        self.document, self.reads = document, 0

    def trust_list(self) -> dict:
        self.reads += 1
        return self.document


def _der(anchor: dict) -> bytes:
    return pem.unarmor(anchor["certificate_pem"].encode())[2]


def test_version_is_a_digest_of_the_anchors_read():
    root, own = _anchor("ca-root"), _anchor("ca-root")
    document, pinned = _signed([{"code": "110000", "anchors": [root]}, {"code": "440000", "anchors": [own]}])
    hub = Hub(document)
    trust = HubTrustList(hub, "440000", pinned, max_age_s=3600)
    version = trust.version()
    assert isinstance(version, bytes) and len(version) == hashlib.sha256().digest_size
    assert _der(root) not in version and trust.certificates() == ((_der(root),), ())
    assert trust.version() == version and hub.reads == 1  # read once, compared by 32 bytes


def test_version_moves_when_the_hub_list_changes():
    root, sub = _anchor("ca-root"), _anchor("ca-intermediate")
    hub = Hub(_signed([{"code": "110000", "anchors": [root]}])[0])
    trust = HubTrustList(hub, "440000", None, max_age_s=0)  # each list here has its own hub key
    first = trust.version()
    same = hub.reads
    deadline = time.monotonic() + 10
    while hub.reads == same and time.monotonic() < deadline:  # a background re-read of the same list
        trust.version()
        time.sleep(0.01)
    assert hub.reads > same and trust.version() == first
    hub.document = _signed([{"code": "110000", "anchors": [root, sub]}])[0]
    while trust.version() == first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trust.certificates() == ((_der(root),), (_der(sub),))
