"""PKCS#11 signing backend (python-pkcs11), tested against SoftHSM2.

A :class:`Pkcs11Token` holds one logged-in read/write session on one token.
PKCS#11 sessions are not thread-safe, so every call that touches the session
(key generation, lookup, signing) is serialised by the token's lock; signers
obtained from a token share that session and lock.

The key management centre's escrow key (keys/kmc.py) may live here too: an AES-256 secret key
used with CKM_AES_GCM, on tokens that offer it (SoftHSM2 does).

Supported signing algorithms: ``rsa-pkcs1-sha256`` (RSA 2048/3072/4096, CKM_SHA256_RSA_PKCS)
and ``ecdsa-p256-sha256`` (P-256, CKM_ECDSA_SHA256, or CKM_ECDSA over a SHA-256
digest when the token lacks the combined mechanism).

SM2: PKCS#11 defines no standard SM2/SM3 mechanisms. Chinese HSMs expose them
as vendor-defined mechanisms (CKM_VENDOR_DEFINED + n, numbering differs per
vendor) and SoftHSM2 has none, so ``sm2-sm3`` is rejected with ``ValueError``
here; a vendor module would need its own signer mapping those mechanisms.

Every library error is re-raised as ``ValueError`` naming the token/key and the
PKCS#11 error class; the user PIN never appears in a message.
"""

from __future__ import annotations

import contextlib
import os
import threading

import pkcs11
from asn1crypto import algos, core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from keys.signer import (
    ALGORITHMS,
    ECDSA_P256_SHA256,
    RSA_PKCS1_SHA256,
    SM2_SM3,
    algorithm_identifier_for,
)

RSA_KEY_SIZES = (2048, 3072, 4096)
_P256_PARAMS = encode_named_curve_parameters("secp256r1")
_PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
}
_CAPABILITIES = MechanismFlag.SIGN | MechanismFlag.VERIFY


def _error(what: str, exc: Exception) -> ValueError:
    return ValueError(f"{what}: {type(exc).__name__}")


def _sm2_unsupported() -> ValueError:
    return ValueError(
        "sm2-sm3 is not supported by the PKCS#11 backend: no standard PKCS#11 SM2/SM3 mechanism "
        "(CKM_SM2 / CKM_SM3 are vendor-defined and not offered by this token)"
    )


class Pkcs11Token:
    """One logged-in session on the token labelled ``token_label`` in ``module_path``."""

    def __init__(self, module_path: str, token_label: str, user_pin: str):
        self.module_path = module_path
        self.token_label = token_label
        self._lock = threading.Lock()
        try:
            lib = pkcs11.lib(module_path)
        except PKCS11Error as exc:
            raise _error(f"cannot load PKCS#11 module {module_path!r}", exc) from exc
        try:
            token = lib.get_token(token_label=token_label)
            self._mechanisms = token.slot.get_mechanisms()
        except PKCS11Error as exc:
            raise _error(f"PKCS#11 token {token_label!r} not found in {module_path!r}", exc) from exc
        try:
            self._session = self._open(token, user_pin)
        except PKCS11Error as exc:
            # from None: nothing from the login call (which saw the PIN) is chained.
            raise _error(f"PKCS#11 login to token {token_label!r} failed", exc) from None
        self._closed = False

    @staticmethod
    def _open(token: pkcs11.Token, user_pin: str) -> pkcs11.Session:
        try:
            return token.open(rw=True, user_pin=user_pin)
        except UserAlreadyLoggedIn:
            # Login state is per process and token: another session here already logged in,
            # and a new session shares that state (the PIN is then not re-checked).
            return token.open(rw=True)

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # PKCS11Error: library already finalised or session gone, nothing left to release.
            with contextlib.suppress(PKCS11Error):
                self._session.close()

    def _require_open(self) -> None:
        if self._closed:
            raise ValueError(f"PKCS#11 token {self.token_label!r} is closed")

    def generate_key(self, label: str, algorithm: str, bits: int | None = None) -> Pkcs11Signer:
        """Generate a non-extractable, sensitive token key pair with ``label`` and a random CKA_ID."""
        if algorithm == SM2_SM3:
            raise _sm2_unsupported()
        if algorithm not in (RSA_PKCS1_SHA256, ECDSA_P256_SHA256):
            raise ValueError(f"unsupported algorithm for PKCS#11: {algorithm!r}")
        if algorithm == RSA_PKCS1_SHA256:
            bits = 2048 if bits is None else bits
            if bits not in RSA_KEY_SIZES:
                raise ValueError(f"RSA key size must be one of {RSA_KEY_SIZES}, not {bits}")
        elif bits is not None:
            raise ValueError(f"bits applies to RSA only, not {algorithm}")
        key_id = os.urandom(16)
        common = {
            "id": key_id,
            "label": label,
            "store": True,
            "capabilities": _CAPABILITIES,
            "private_template": _PRIVATE_TEMPLATE,
        }
        with self._lock:
            self._require_open()
            if self._find(ObjectClass.PRIVATE_KEY, label) is not None:
                raise ValueError(f"a key labelled {label!r} already exists on token {self.token_label!r}")
            try:
                if algorithm == RSA_PKCS1_SHA256:
                    public_template = {Attribute.PUBLIC_EXPONENT: (65537).to_bytes(3, "big")}
                    self._session.generate_keypair(
                        KeyType.RSA, bits, public_template=public_template, **common
                    )
                else:
                    params = self._session.create_domain_parameters(
                        KeyType.EC, {Attribute.EC_PARAMS: _P256_PARAMS}, local=True
                    )
                    params.generate_keypair(**common)
            except PKCS11Error as exc:
                raise _error(
                    f"key generation for {label!r} on token {self.token_label!r} failed", exc
                ) from exc
            return self._load_signer(label)

    def supports_aes_gcm(self) -> bool:
        """Whether the token offers AES key generation and CKM_AES_GCM (for the KMC's escrow key)."""
        return {Mechanism.AES_KEY_GEN, Mechanism.AES_GCM} <= set(self._mechanisms)

    def generate_aes_key(self, label: str) -> None:
        """Generate a sensitive, non-extractable AES-256 token key with ``label`` that encrypts and
        decrypts only. ValueError if the token lacks AES-GCM or a key of that label exists."""
        if not self.supports_aes_gcm():
            raise ValueError(f"PKCS#11 token {self.token_label!r} offers no CKM_AES_KEY_GEN / CKM_AES_GCM")
        with self._lock:
            self._require_open()
            if self._find(ObjectClass.SECRET_KEY, label) is not None:
                raise ValueError(f"a key labelled {label!r} already exists on token {self.token_label!r}")
            try:
                self._session.generate_key(
                    KeyType.AES,
                    256,
                    label=label,
                    id=os.urandom(16),
                    store=True,
                    capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
                )
            except PKCS11Error as exc:
                raise _error(f"AES key generation for {label!r} on {self.token_label!r} failed", exc) from exc

    def aes_gcm(self, label: str, data: bytes, nonce: bytes, aad: bytes, *, encrypt: bool) -> bytes:
        """AES-GCM (128-bit tag appended to the ciphertext) with the token's AES key ``label``.
        ValueError for a missing key, or a ciphertext that does not authenticate."""
        params = GCMParams(nonce, aad)
        with self._lock:
            self._require_open()
            key = self._find(ObjectClass.SECRET_KEY, label)
            if key is None:
                raise ValueError(f"no AES key labelled {label!r} on token {self.token_label!r}")
            try:
                if encrypt:
                    return key.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params)
                return key.decrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            except PKCS11Error as exc:
                raise _error(f"AES-GCM with {label!r} on token {self.token_label!r} failed", exc) from exc

    def signer(self, label: str) -> Pkcs11Signer:
        """The signer for the existing key pair labelled ``label``."""
        with self._lock:
            self._require_open()
            return self._load_signer(label)

    def _find(self, object_class: ObjectClass, label: str, key_id: bytes | None = None):
        attrs = {Attribute.CLASS: object_class, Attribute.LABEL: label}
        if key_id is not None:
            attrs[Attribute.ID] = key_id
        try:
            found = list(self._session.get_objects(attrs))
        except PKCS11Error as exc:
            raise _error(f"key lookup for {label!r} on token {self.token_label!r} failed", exc) from exc
        if len(found) > 1:
            raise ValueError(f"{len(found)} objects labelled {label!r} on token {self.token_label!r}")
        return found[0] if found else None

    def _load_signer(self, label: str) -> Pkcs11Signer:
        """Build a signer; caller holds the lock."""
        private = self._find(ObjectClass.PRIVATE_KEY, label)
        if private is None:
            raise ValueError(f"no private key labelled {label!r} on token {self.token_label!r}")
        try:
            key_id = private[Attribute.ID]
            public = self._find(ObjectClass.PUBLIC_KEY, label, key_id)
            if public is None:
                raise ValueError(f"no public key labelled {label!r} on token {self.token_label!r}")
            key_type = private.key_type
            if key_type == KeyType.RSA:
                modulus = int.from_bytes(public[Attribute.MODULUS], "big")
                exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
                spki = asn1_keys.PublicKeyInfo(
                    {
                        "algorithm": {"algorithm": "rsa", "parameters": core.Null()},
                        "public_key": asn1_keys.RSAPublicKey(
                            {"modulus": modulus, "public_exponent": exponent}
                        ),
                    }
                )
                return Pkcs11Signer(
                    self, label, private, RSA_PKCS1_SHA256, spki, (modulus.bit_length() + 7) // 8
                )
            if key_type == KeyType.EC:
                if public[Attribute.EC_PARAMS] != _P256_PARAMS:
                    raise ValueError(f"EC key {label!r} is not on curve P-256")
                point = public[Attribute.EC_POINT]
                if len(point) != 65:  # DER OCTET STRING wrapping the point (some tokens give it raw)
                    point = core.OctetString.load(point).native
                spki = asn1_keys.PublicKeyInfo(
                    {
                        "algorithm": {
                            "algorithm": "ec",
                            "parameters": asn1_keys.ECDomainParameters(name="named", value="secp256r1"),
                        },
                        "public_key": point,
                    }
                )
                return Pkcs11Signer(self, label, private, ECDSA_P256_SHA256, spki, 72)
        except PKCS11Error as exc:
            raise _error(f"reading key {label!r} on token {self.token_label!r} failed", exc) from exc
        raise ValueError(f"key {label!r} has unsupported key type {key_type!r}")


class Pkcs11Signer:
    """A Signer whose private key stays on a PKCS#11 token. Signs the message, returns DER."""

    def __init__(
        self,
        token: Pkcs11Token,
        label: str,
        private_key: pkcs11.PrivateKey,
        algorithm: str,
        spki: asn1_keys.PublicKeyInfo,
        max_signature_size: int,
    ):
        self._token = token
        self._key = private_key
        self._spki = spki
        self.label = label
        self.key_ref = f"pkcs11:{token.token_label}/{label}"
        self.algorithm = algorithm
        self.digest_algorithm = ALGORITHMS[algorithm][1]
        self.max_signature_size = max_signature_size
        if algorithm == RSA_PKCS1_SHA256:
            self._mechanism, self._prehash = Mechanism.SHA256_RSA_PKCS, False
        elif Mechanism.ECDSA_SHA256 in token._mechanisms:
            self._mechanism, self._prehash = Mechanism.ECDSA_SHA256, False
        else:
            self._mechanism, self._prehash = Mechanism.ECDSA, True

    def public_key_info(self) -> asn1_keys.PublicKeyInfo:
        return self._spki

    def algorithm_identifier(self) -> algos.SignedDigestAlgorithm:
        return algorithm_identifier_for(self.algorithm)

    def sign(self, message: bytes) -> bytes:
        data = message
        if self._prehash:
            digest = hashes.Hash(hashes.SHA256())
            digest.update(message)
            data = digest.finalize()
        with self._token._lock:
            self._token._require_open()
            try:
                raw = self._key.sign(data, mechanism=self._mechanism)
            except PKCS11Error as exc:
                raise _error(f"PKCS#11 signing with {self.key_ref} failed", exc) from exc
        if self.algorithm == ECDSA_P256_SHA256:
            return algos.DSASignature.from_p1363(raw).dump()
        return raw
