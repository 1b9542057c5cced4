"""pyHanko time stampers backed by our own TSA, in process (no HTTP round trip)."""

from __future__ import annotations

from asn1crypto import cms, tsp
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError


class LocalTimeStamper(TimeStamper):
    """Sends RFC 3161 queries straight to ``reply(query_der) -> reply_der`` (ca.CAService.timestamp).

    ``md_algorithm`` is the stamp's digest: our TSA answers SM3 imprints with its SM2 unit and the
    others with its RSA unit, so every query, the size-estimating one included, uses that digest."""

    def __init__(self, reply, md_algorithm: str):
        super().__init__()
        self._reply = reply
        self._md_algorithm = md_algorithm

    async def async_dummy_response(self, md_algorithm) -> cms.ContentInfo:
        # pyHanko first asks in SHA-256 to learn the unit's certificates; the unit that will really
        # answer is the one whose chain must be validated and embedded (B-LT, B-LTA).
        return await super().async_dummy_response(self._md_algorithm)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        der = self._reply(req.dump())
        response = tsp.TimeStampResp.load(der)
        if response["status"]["status"].native not in ("granted", "granted_with_mods"):
            raise TimestampRequestError(f"time stamp refused: {response['status'].native}")
        return response
