"""pyHanko time stampers backed by our own TSA, in process (no HTTP round trip)."""

from __future__ import annotations

from asn1crypto import tsp
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError


class LocalTimeStamper(TimeStamper):
    """Sends RFC 3161 queries straight to ``reply(query_der) -> reply_der`` (ca.CAService.timestamp)."""

    def __init__(self, reply):
        super().__init__()
        self._reply = reply

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        der = self._reply(req.dump())
        response = tsp.TimeStampResp.load(der)
        if response["status"]["status"].native not in ("granted", "granted_with_mods"):
            raise TimestampRequestError(f"time stamp refused: {response['status'].native}")
        return response
