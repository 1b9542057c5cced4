"""Encryption of software private keys at rest: AES-256-GCM under a key-encryption key."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Development only: the service refuses to start outside development with this KEK.
DEFAULT_DEV_KEK_B64 = base64.b64encode(b"longtrust-development-kek-0000!!").decode()
_VERSION = b"\x01"


class KeyEncryptor:
    def __init__(self, kek_b64: str):
        try:
            kek = base64.b64decode(kek_b64, validate=True)
        except ValueError:
            raise ValueError("the key-encryption key must be base64") from None
        if len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(kek)

    def seal(self, plaintext: bytes, key_ref: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, key_ref.encode())

    def open(self, blob: bytes, key_ref: str) -> bytes:
        if blob[:1] != _VERSION:
            raise ValueError(f"unknown key encryption format for {key_ref}")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], key_ref.encode())
        except InvalidTag:
            raise ValueError(
                f"cannot decrypt key {key_ref}: wrong key-encryption key or tampered record"
            ) from None
