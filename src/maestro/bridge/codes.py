"""Codes and secrets of the bridge: user codes, device codes, PKCE, state, CSRF, sealed tokens.

User codes use RFC 8628's base-20 alphabet (no vowels, so no words; no
look-alikes), 8 characters (about 34.6 bits), shown as XXXX-XXXX and compared
ignoring case, spaces and dashes. Device codes carry 256 bits and are stored
only as SHA-256 hashes.

Tokens wait for their device sealed (X25519 + HKDF + ChaCha20-Poly1305, an
ECIES construction from the ``cryptography`` package) to a public key that the
device code derives: the bridge can seal at the callback, when it only knows
the public key, and open at the poll, when the device shows its code. A copy of
the database holds nothing that works without a device code it never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


#: The pairing link's secret: 80 bits in base32 (A-Z, 2-7), so the whole link can be written in
#: capitals and fit a QR code's alphanumeric mode: version 3 (29 modules) for hosts up to about 40
#: characters, two pixels a module on a 64-pixel-high screen, where the older link (a 256-bit secret
#: and a query) needed 37 modules at one. 80 bits are plenty: a wrong secret is an ordinary guess,
#: limited like a typed code, against a code that lives ten minutes.
LINK_SECRET_CHARS = 16


def new_link_secret() -> str:
    return base64.b32encode(secrets.token_bytes(LINK_SECRET_CHARS * 5 // 8)).decode("ascii")


def split_link_token(token: str) -> tuple[str, str]:
    """ "/p/<user code><secret>" in any case -> (user code, secret), both upper case."""
    token = token.strip().upper()
    return token[:USER_CODE_LENGTH], token[USER_CODE_LENGTH:]


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


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def _private_key(device_code: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_hkdf(device_code.encode("utf-8"), b"maestro bridge tokens"))


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key(device_code: str) -> str:
    """What the store keeps so tokens can be sealed for this device code (hex)."""
    return _raw(_private_key(device_code).public_key()).hex()


def seal(plaintext: bytes, public_key_hex: str) -> str:
    """``plaintext`` readable only with the device code behind ``public_key_hex`` (base64)."""
    recipient = X25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    ephemeral = X25519PrivateKey.generate()
    sender = _raw(ephemeral.public_key())
    key = _hkdf(ephemeral.exchange(recipient) + sender, b"maestro bridge seal")
    # A fresh key for every message: a fixed nonce is safe.
    return base64.b64encode(sender + ChaCha20Poly1305(key).encrypt(bytes(12), plaintext, None)).decode()


def open_sealed(sealed: str, device_code: str) -> bytes | None:
    """What :func:`seal` sealed for this device code; None when it cannot be opened."""
    try:
        blob = base64.b64decode(sealed)
        sender = X25519PublicKey.from_public_bytes(blob[:32])
        key = _hkdf(_private_key(device_code).exchange(sender) + blob[:32], b"maestro bridge seal")
        return ChaCha20Poly1305(key).decrypt(bytes(12), blob[32:], None)
    except (ValueError, InvalidTag):
        return None
