"""SM2 (GB/T 32918) through the operating system's OpenSSL 3 libcrypto.

Private-key operations run in native code at `openssl speed sm2` rates; Python only
moves bytes. Keys travel as PKCS#8 DER (the form keys/ encrypts at rest). Signatures
are DER ``SEQUENCE{r, s}``; verification also accepts raw 64-byte ``r‖s``.
The distinguishing ID defaults to ``1234567812345678`` and is always set explicitly:
OpenSSL 3.0 otherwise uses an empty ID.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import lru_cache

from asn1crypto import algos, keys

from core.oids import DEFAULT_SM2_ID, SM2_CURVE

_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def _load_libcrypto() -> ctypes.CDLL:
    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto") or "", "libcrypto.3.dylib"):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "EVP_PKEY_CTX_new_from_name"):
            return lib
    raise RuntimeError("SM2 needs OpenSSL 3 libcrypto (libcrypto.so.3); install the OS openssl package")


_lib = _load_libcrypto()
_P = ctypes.c_void_p


def _sig(name, restype, *argtypes):
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_ctx_new_from_name = _sig("EVP_PKEY_CTX_new_from_name", _P, _P, ctypes.c_char_p, _P)
_ctx_new_from_pkey = _sig("EVP_PKEY_CTX_new_from_pkey", _P, _P, _P, _P)
_ctx_free = _sig("EVP_PKEY_CTX_free", None, _P)
_keygen_init = _sig("EVP_PKEY_keygen_init", ctypes.c_int, _P)
_generate = _sig("EVP_PKEY_generate", ctypes.c_int, _P, ctypes.POINTER(_P))
_pkey_free = _sig("EVP_PKEY_free", None, _P)
_get_bn_param = _sig("EVP_PKEY_get_bn_param", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(_P))
_get_octet_param = _sig(
    "EVP_PKEY_get_octet_string_param",
    ctypes.c_int,
    _P,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_size_t,
    ctypes.POINTER(ctypes.c_size_t),
)
_bn_bn2binpad = _sig("BN_bn2binpad", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int)
_bn_clear_free = _sig("BN_clear_free", None, _P)
_d2i_auto_private = _sig("d2i_AutoPrivateKey", _P, _P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long)
_d2i_pubkey = _sig("d2i_PUBKEY", _P, _P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long)
_md_ctx_new = _sig("EVP_MD_CTX_new", _P)
_md_ctx_free = _sig("EVP_MD_CTX_free", None, _P)
_md_ctx_set_pkey_ctx = _sig("EVP_MD_CTX_set_pkey_ctx", None, _P, _P)
_set1_id = _sig("EVP_PKEY_CTX_set1_id", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_int)
_sm3 = _sig("EVP_sm3", _P)
_digest_sign_init = _sig("EVP_DigestSignInit", ctypes.c_int, _P, _P, _P, _P, _P)
_md_ctx_copy = _sig("EVP_MD_CTX_copy_ex", ctypes.c_int, _P, _P)
_sign_update = _sig("EVP_DigestSignUpdate", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t)
_sign_final = _sig("EVP_DigestSignFinal", ctypes.c_int, _P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t))
_verify_update = _sig("EVP_DigestVerifyUpdate", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t)
_verify_final = _sig("EVP_DigestVerifyFinal", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t)
_digest_verify_init = _sig("EVP_DigestVerifyInit", ctypes.c_int, _P, _P, _P, _P, _P)
_err_clear = _sig("ERR_clear_error", None)
_encrypt_init = _sig("EVP_PKEY_encrypt_init", ctypes.c_int, _P)
_encrypt = _sig(
    "EVP_PKEY_encrypt",
    ctypes.c_int,
    _P,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_size_t),
    ctypes.c_char_p,
    ctypes.c_size_t,
)
_SM3_MD = _sm3()


class SM2Error(ValueError):
    """Raised for keys or signatures libcrypto will not accept."""


class _Pkey:
    """Owns one EVP_PKEY; freed with the Python object."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int | None):
        if not ptr:
            _err_clear()
            raise SM2Error("libcrypto rejected the SM2 key")
        self.ptr = ptr

    def __del__(self):
        # At interpreter exit the module globals may already be gone.
        if getattr(self, "ptr", None) and _pkey_free is not None:
            _pkey_free(self.ptr)
            self.ptr = None


class _Prepared:
    """A digest-sign or digest-verify context with the key, the ID and Z_A already absorbed.

    Each operation copies it (EVP_MD_CTX_copy_ex duplicates the SM2 context too), so Z_A is
    hashed once per key instead of once per signature, and the template is only ever read.
    """

    __slots__ = ("_mctx", "_pctx", "_pkey", "sign")

    def __init__(self, pkey: _Pkey, user_id: bytes, sign: bool):
        self._pkey, self.sign = pkey, sign
        self._mctx = _md_ctx_new()
        self._pctx = _ctx_new_from_pkey(None, pkey.ptr, None)
        if not self._mctx or not self._pctx or _set1_id(self._pctx, user_id, len(user_id)) != 1:
            _err_clear()
            raise SM2Error("cannot set the SM2 distinguishing ID")
        _md_ctx_set_pkey_ctx(self._mctx, self._pctx)
        init = _digest_sign_init if sign else _digest_verify_init
        if init(self._mctx, None, _SM3_MD, None, pkey.ptr) != 1:
            _err_clear()
            raise SM2Error("SM2 context initialisation failed")

    def __del__(self):
        if _md_ctx_free is not None and getattr(self, "_mctx", None):
            _md_ctx_free(self._mctx)
            _ctx_free(self._pctx)
            self._mctx = None

    def run(self, message: bytes, signature: bytes = b"") -> bytes | bool:
        ctx = _md_ctx_new()
        try:
            if _md_ctx_copy(ctx, self._mctx) != 1:
                raise SM2Error("cannot copy the SM2 context")
            if self.sign:
                out = ctypes.create_string_buffer(80)
                size = ctypes.c_size_t(80)
                signed = _sign_update(ctx, message, len(message)) == 1
                if not signed or _sign_final(ctx, out, ctypes.byref(size)) != 1:
                    raise SM2Error("SM2 signing failed")
                return out.raw[: size.value]
            if _verify_update(ctx, message, len(message)) != 1:
                raise SM2Error("SM2 verification failed")
            return _verify_final(ctx, signature, len(signature)) == 1
        finally:
            _md_ctx_free(ctx)
            _err_clear()


@lru_cache(maxsize=4096)
def _verifier(point: bytes, user_id: bytes) -> _Prepared:
    return _Prepared(_public_pkey(point), user_id, False)


def _pkcs8(scalar: bytes, point: bytes) -> bytes:
    ec_key = keys.ECPrivateKey(
        {
            "version": "ecPrivkeyVer1",
            "private_key": int.from_bytes(scalar, "big"),
            "public_key": point,
        }
    )
    return keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": {
                "algorithm": "ec",
                "parameters": keys.ECDomainParameters(name="named", value=SM2_CURVE),
            },
            "private_key": ec_key,
        }
    ).dump()


def public_key_info(point: bytes) -> keys.PublicKeyInfo:
    """SubjectPublicKeyInfo for an SM2 point: id-ecPublicKey with the sm2p256v1 curve."""
    return keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": keys.ECDomainParameters(name="named", value=SM2_CURVE),
            },
            "public_key": point,
        }
    )


class SM2PrivateKey:
    """An SM2 private key held by libcrypto."""

    __slots__ = ("_pkey", "public_point", "_lock", "_signing")

    def __init__(self, pkey: _Pkey, public_point: bytes):
        self._pkey = pkey
        self.public_point = public_point
        self._lock = threading.Lock()
        self._signing: dict[bytes, _Prepared] = {}

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        ctx = _ctx_new_from_name(None, b"SM2", None)
        try:
            out = _P()
            if not ctx or _keygen_init(ctx) != 1 or _generate(ctx, ctypes.byref(out)) != 1:
                raise SM2Error("SM2 key generation failed")
            pkey = _Pkey(out.value)
        finally:
            if ctx:
                _ctx_free(ctx)
        return cls(pkey, _public_point(pkey))

    @classmethod
    def from_pkcs8(cls, der: bytes) -> SM2PrivateKey:
        info = keys.PrivateKeyInfo.load(der)
        params = info["private_key_algorithm"]["parameters"]
        if info["private_key_algorithm"]["algorithm"].native != "ec" or params.chosen.dotted != SM2_CURVE:
            raise SM2Error("not an SM2 private key")
        buf = ctypes.c_char_p(der)
        pkey = _Pkey(_d2i_auto_private(None, ctypes.byref(buf), len(der)))
        return cls(pkey, _public_point(pkey))

    @classmethod
    def from_scalar(cls, scalar: int) -> SM2PrivateKey:
        if not 1 <= scalar <= _N - 2:
            raise SM2Error("SM2 private scalar out of range")
        # Without a public key in the ECPrivateKey, libcrypto derives it from d.
        der = keys.PrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": {
                    "algorithm": "ec",
                    "parameters": keys.ECDomainParameters(name="named", value=SM2_CURVE),
                },
                "private_key": keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": scalar}),
            }
        ).dump()
        buf = ctypes.c_char_p(der)
        pkey = _Pkey(_d2i_auto_private(None, ctypes.byref(buf), len(der)))
        return cls(pkey, _public_point(pkey))

    def private_scalar(self) -> bytes:
        bn = _P()
        if _get_bn_param(self._pkey.ptr, b"priv", ctypes.byref(bn)) != 1:
            raise SM2Error("cannot export the SM2 private key")
        try:
            out = ctypes.create_string_buffer(32)
            _bn_bn2binpad(bn, out, 32)
            return out.raw
        finally:
            _bn_clear_free(bn)

    def to_pkcs8(self) -> bytes:
        return _pkcs8(self.private_scalar(), self.public_point)

    def public_key_info(self) -> keys.PublicKeyInfo:
        return public_key_info(self.public_point)

    def sign(self, message: bytes, user_id: bytes = DEFAULT_SM2_ID) -> bytes:
        """DER SM2 signature over SM3(Z_A ‖ message)."""
        prepared = self._signing.get(user_id)
        if prepared is None:
            with self._lock:
                prepared = self._signing.setdefault(user_id, _Prepared(self._pkey, user_id, True))
        return prepared.run(message)


def _public_point(pkey: _Pkey) -> bytes:
    out = ctypes.create_string_buffer(65)
    size = ctypes.c_size_t(0)
    if _get_octet_param(pkey.ptr, b"pub", out, 65, ctypes.byref(size)) != 1 or size.value != 65:
        raise SM2Error("cannot read the SM2 public key")
    return out.raw


@lru_cache(maxsize=4096)
def _public_pkey(point: bytes) -> _Pkey:
    der = public_key_info(point).dump()
    buf = ctypes.c_char_p(der)
    return _Pkey(_d2i_pubkey(None, ctypes.byref(buf), len(der)))


def normalize_signature(signature: bytes) -> bytes:
    """DER SEQUENCE{r, s} from DER or raw 64-byte r‖s; rejects r, s outside [1, n-1].

    64 bytes are DER only when they parse as DER in full: one raw r in 256 starts with 0x30."""
    try:
        parsed = _parse_signature(signature)
        r, s = parsed["r"].native, parsed["s"].native
    except (ValueError, TypeError) as exc:
        raise SM2Error(f"malformed SM2 signature: {exc}") from None
    if not (1 <= r < _N and 1 <= s < _N):
        raise SM2Error("SM2 signature values out of range")
    return algos.DSASignature({"r": r, "s": s}).dump()


def _parse_signature(signature: bytes) -> algos.DSASignature:
    if len(signature) != 64:
        return algos.DSASignature.load(signature, strict=True)
    try:
        der = algos.DSASignature.load(signature, strict=True)
        der.native  # noqa: B018 - parses the contents; a raw r‖s fails here
        return der
    except (ValueError, TypeError):
        return algos.DSASignature.from_p1363(signature)


def verify(public_point: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_SM2_ID) -> bool:
    """True when ``signature`` (DER or raw r‖s) is a valid SM2 signature by ``public_point``."""
    try:
        der = normalize_signature(signature)
        prepared = _verifier(bytes(public_point), bytes(user_id))
    except SM2Error:
        return False
    return bool(prepared.run(message, der))


def encrypt(public_point: bytes, plaintext: bytes) -> bytes:
    """SM2 public-key encryption (GB/T 32918.4, SM3) to ``public_point`` (65-byte 04‖X‖Y).

    Returns the DER ``SM2Cipher ::= SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER,
    HASH OCTET STRING (32), CipherText OCTET STRING }`` (GM/T 0009, C1‖C3‖C2 order), as libcrypto
    writes it. Raises SM2Error for a point libcrypto rejects."""
    pkey = _public_pkey(bytes(public_point))
    ctx = _ctx_new_from_pkey(None, pkey.ptr, None)
    try:
        size = ctypes.c_size_t(0)
        if not ctx or _encrypt_init(ctx) != 1:
            raise SM2Error("SM2 encryption failed")
        if _encrypt(ctx, None, ctypes.byref(size), plaintext, len(plaintext)) != 1:
            raise SM2Error("SM2 encryption failed")
        out = ctypes.create_string_buffer(size.value)
        if _encrypt(ctx, out, ctypes.byref(size), plaintext, len(plaintext)) != 1:
            raise SM2Error("SM2 encryption failed")
        return out.raw[: size.value]
    finally:
        if ctx:
            _ctx_free(ctx)
        _err_clear()
