"""What the verifiers trust: this deployment's CA roots, intermediates and fresh CRLs
(other regions' anchors join through the hub's trust list)."""

from __future__ import annotations

from ca.service import CAService
from verify.service import TrustMaterial


class LocalTrust:
    def __init__(self, ca: CAService, extra_anchors=None):
        self._ca = ca
        self._extra_anchors = extra_anchors  # callable returning DER roots of other regions, or None

    def material(self) -> TrustMaterial:
        anchors, intermediates, crls = [], [], []
        for row in self._ca.list_cas():
            (intermediates if row.parent_id else anchors).append(row.certificate_der)
            crls.append(self._ca.current_crl(row.id))
        if self._extra_anchors is not None:
            anchors.extend(self._extra_anchors())
        return TrustMaterial(tuple(anchors), tuple(intermediates), tuple(crls))
