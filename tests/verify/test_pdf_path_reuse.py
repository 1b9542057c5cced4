"""Paths kept across files (verify.pdf_reuse.PATHS): a path that passed serves a later document by
the same signer, only with the same trust material and validation second, and only if that document
holds the path's certificates itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.seal_service.test_pdf import make_pdf, make_pki
from tests.verify.pki_fixtures import hierarchy, make_crl
from tests.verify.test_pdf_many_signatures import count_path_validations, stamp_by
from tests.verify.test_pdf_verify import explain, verify
from verify import pdf_reuse
from verify.report import INDETERMINATE_INDICATION, REVOKED, TOTAL_FAILED, TOTAL_PASSED


def in_one_second(first, second, attempts: int = 5, fresh=lambda: None):
    """(first(), second()) from an attempt where both ran within one wall-clock second (the
    validation time's resolution in the fingerprint); ``fresh`` runs before each attempt."""
    for _ in range(attempts):
        fresh()
        started = int(time.time())
        results = first(), second()
        if int(time.time()) == started:
            return results
    raise AssertionError("no attempt ran within one second")


def signed(pki, chain: list[bytes]) -> bytes:
    return stamp_by(make_pdf(), pki.signer, pki.der(pki.signer_cert), chain, 0)


def test_a_second_document_by_the_same_signer_is_not_validated_again(monkeypatch):
    pki = make_pki()
    runs = count_path_validations(monkeypatch)
    first, second = signed(pki, pki.chain_der), signed(pki, pki.chain_der)
    assert first != second

    def fresh() -> None:
        monkeypatch.setattr(pdf_reuse, "PATHS", pdf_reuse.ProcessPaths())
        runs[0] = 0

    reports = in_one_second(lambda: verify(first), lambda: verify(second), fresh=fresh)
    assert [r.indication for r in reports] == [TOTAL_PASSED, TOTAL_PASSED], explain(reports[1])
    assert runs[0] == 1


def test_a_kept_path_does_not_lend_its_intermediate_to_a_document_without_it(monkeypatch):
    pki = make_pki()
    count_path_validations(monkeypatch)
    whole, bare = signed(pki, pki.chain_der), signed(pki, [])
    assert verify(bare).indication == INDETERMINATE_INDICATION
    kept, lent = in_one_second(lambda: verify(whole), lambda: verify(bare))
    assert kept.indication == TOTAL_PASSED, explain(kept)
    assert lent.indication == INDETERMINATE_INDICATION, explain(lent)
    assert "no trusted path" in lent.check("Signature1: certificate chain").detail


def test_a_new_crl_is_new_trust_material(monkeypatch):
    chain = hierarchy("rsa")
    count_path_validations(monkeypatch)
    data = stamp_by(make_pdf(), chain.leaf.signer, chain.leaf.der, [chain.issuing.der], 0)
    anchors = [chain.root.der]
    good = make_crl(chain.issuing, [])
    revoked = make_crl(chain.issuing, [(chain.leaf.serial, datetime.now(UTC) - timedelta(days=1))])
    before, after = in_one_second(
        lambda: verify(data, trust_anchors=anchors, crls=[good]),
        lambda: verify(data, trust_anchors=anchors, crls=[revoked]),
    )
    assert before.indication == TOTAL_PASSED, explain(before)
    assert after.indication == TOTAL_FAILED, explain(after)
    assert after.check("Signature1: certificate chain").sub_indication == REVOKED
