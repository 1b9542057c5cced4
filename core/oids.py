"""GM/T object identifiers, registered once with asn1crypto.

Importing this module is enough: asn1crypto's maps are module-level, so every
parser and builder in the process (ours, pyHanko's, certvalidator's) then knows
the SM2 curve, SM3 and SM3withSM2 by name.
"""

from asn1crypto import algos, cms, keys

SM2_CURVE = "1.2.156.10197.1.301"
SM2_1_SIGN = "1.2.156.10197.1.301.1"
SM3 = "1.2.156.10197.1.401"
SM3_WITH_SM2 = "1.2.156.10197.1.501"
RSA_WITH_SM3 = "1.2.156.10197.1.504"

GBT35275_CONTENT_TYPES = {
    "1.2.156.10197.6.1.4.2.1": "gbt35275_data",
    "1.2.156.10197.6.1.4.2.2": "gbt35275_signed_data",
    "1.2.156.10197.6.1.4.2.3": "gbt35275_enveloped_data",
    "1.2.156.10197.6.1.4.2.4": "gbt35275_signed_and_enveloped_data",
    "1.2.156.10197.6.1.4.2.5": "gbt35275_encrypted_data",
    "1.2.156.10197.6.1.4.2.6": "gbt35275_key_agreement_info",
}

# GM/T 0015-2023 unified social credit code extension.
GMT0015_CREDIT_CODE = "1.2.156.10260.4.4"

DEFAULT_SM2_ID = b"1234567812345678"


def _register() -> None:
    if SM3_WITH_SM2 in algos.SignedDigestAlgorithmId._map:
        return
    keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)
    algos.DigestAlgorithmId._map[SM3] = "sm3"
    algos.SignedDigestAlgorithmId._map[SM3_WITH_SM2] = "sm3_sm2"
    algos.SignedDigestAlgorithmId._map[SM2_1_SIGN] = "sm2_1"
    algos.SignedDigestAlgorithmId._map[RSA_WITH_SM3] = "sm3_rsa"
    cms.ContentType._map.update(GBT35275_CONTENT_TYPES)
    for cls in (algos.DigestAlgorithmId, algos.SignedDigestAlgorithmId, cms.ContentType):
        cls._reverse_map = None


_register()
