"""Console sessions: an HMAC-signed cookie holding the signed-in token's id, the session's id, a
nonce and an expiry.

The key is derived from the KEK (HKDF-SHA256), so every worker and host of one deployment accepts
the same cookies. A signed-in session also has a row (app/console/session_rows.py) that signing out
ends in every process. Each request looks the token up again by its id (app/tokens.py, the
versioned cache), so revoking the token ends its sessions at once. The CSRF token of a form is an
HMAC of the session nonce (session-bound); signing in starts a new nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "lt_console"
CSRF_FIELD = "csrf_token"
ANONYMOUS_LIFETIME_S = 3600.0  # a sign-in form is good for this long


@dataclass(frozen=True)
class Session:
    """One browser's session: ``token_id`` and ``session_id`` are empty before sign-in; ``expires``
    is Unix seconds."""

    token_id: str
    nonce: str
    expires: float
    session_id: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and reads session cookies and their CSRF tokens; ``kek_b64`` is LONGTRUST_KEK."""

    def __init__(self, kek_b64: str, lifetime_s: float):
        self._key = HKDF(hashes.SHA256(), 32, salt=None, info=b"longtrust console session").derive(
            kek_b64.encode()
        )
        self.lifetime_s = lifetime_s

    def _mac(self, label: str, data: bytes) -> bytes:
        return hmac.new(self._key, label.encode() + b"|" + data, hashlib.sha256).digest()

    def new(self, token_id: str = "") -> tuple[Session, str]:
        """A fresh session (signed in when ``token_id`` is given) and its cookie value."""
        lifetime = self.lifetime_s if token_id else ANONYMOUS_LIFETIME_S
        session_id = "cs-" + secrets.token_hex(12) if token_id else ""
        session = Session(token_id, secrets.token_urlsafe(16), time.time() + lifetime, session_id)
        body = json.dumps({"t": token_id, "n": session.nonce, "e": session.expires, "s": session_id}).encode()
        return session, f"{_b64(body)}.{_b64(self._mac('cookie', body))}"

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie value, or None when it is absent, forged, malformed or expired."""
        if not cookie or "." not in cookie:
            return None
        body_text, _, mac_text = cookie.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac("cookie", body)):
            return None
        fields = json.loads(body)
        session = Session(str(fields["t"]), str(fields["n"]), float(fields["e"]), str(fields.get("s", "")))
        return session if session.expires > time.time() else None

    def csrf(self, session: Session) -> str:
        """The CSRF token every form of this session carries."""
        return _b64(self._mac("csrf", session.nonce.encode()))

    def csrf_ok(self, session: Session | None, presented: str | None) -> bool:
        return bool(session and presented) and hmac.compare_digest(presented, self.csrf(session))
