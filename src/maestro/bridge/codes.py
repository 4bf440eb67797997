"""Codes and secrets of the bridge: user codes, device codes, PKCE, state, CSRF.

User codes use RFC 8628's base-20 alphabet (no vowels, so no words; no
look-alikes), 8 characters (about 34.6 bits), shown as XXXX-XXXX and compared
ignoring case, spaces and dashes. Device codes carry 256 bits and are stored
only as SHA-256 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


def new_user_code() -> str:
    raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_user_code(text: str) -> str:
    """ "bcdf ghjk", "BCDF-GHJK" -> "BCDFGHJK" (other characters are kept, and will not match)."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")[:32]


def looks_like_user_code(text: str) -> bool:
    code = normalise_user_code(text)
    return len(code) == USER_CODE_LENGTH and all(ch in USER_CODE_ALPHABET for ch in code)


def new_secret() -> str:
    """256 bits, URL-safe: device codes, OAuth state."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the store keeps instead of a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
    return verifier, challenge.decode("ascii")


def csrf_token(key: bytes, grant_id: str, nonce: str) -> str:
    return hmac.new(key, f"{grant_id}:{nonce}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
