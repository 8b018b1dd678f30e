"""Signed, expiring tokens: a small JSON payload and its HMAC-SHA256, for cookies and URLs.

A token is ``<payload>.<mac>``, both base64url without padding (the MAC is compared as
that text, so no other spelling of the same bytes passes). The MAC covers a
*purpose* (``"session"``, ``"share"``) as well as the payload, so a token made for one
use is refused as the other. Every payload carries ``exp`` (epoch seconds); a token past
it is refused. Nothing secret is in a payload: it is signed, not encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

import orjson

#: The longest token read (a cookie or a URL segment); longer ones are refused unread.
MAX_TOKEN_CHARS = 1024


def b64encode(data: bytes) -> str:
    """``data`` as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``.

    Raises
    ------
    ValueError
        ``text`` is not base64url.
    """
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base64url: {exc}") from None


class Signer:
    """Makes and checks the tokens of one secret.

    Parameters
    ----------
    secret : bytes
        The HMAC key (at least 32 bytes).
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError(f"the signing secret must be at least 32 bytes, got {len(secret)}")
        self._secret = secret

    def mac(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of ``purpose`` and ``data`` (the purpose is length-prefixed, so no
        two (purpose, data) pairs share a message)."""
        label = purpose.encode("utf-8")
        message = len(label).to_bytes(2, "big") + label + data
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def sign(self, purpose: str, payload: dict[str, Any], expires: float) -> str:
        """A token for ``payload`` (JSON-safe), valid until ``expires`` (epoch seconds)."""
        body = b64encode(orjson.dumps({**payload, "exp": int(expires)}))
        return f"{body}.{b64encode(self.mac(purpose, body.encode('ascii')))}"

    def read(self, purpose: str, token: str, now: float | None = None) -> dict[str, Any] | None:
        """The payload of a genuine, unexpired token made for ``purpose``; None otherwise.

        Use :meth:`read_expired` to tell an expired token from a forged one.
        """
        payload = self.read_expired(purpose, token)
        if payload is None or payload["exp"] <= (time.time() if now is None else now):
            return None
        return payload

    def read_expired(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The payload of a genuine token made for ``purpose``, expired or not; None for
        anything else (malformed, tampered, signed with another secret or purpose)."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        body, _, signature = token.partition(".")
        if not token.isascii():
            return None
        # The MAC is compared in its one encoding, so no variant spelling of it passes.
        expected = b64encode(self.mac(purpose, body.encode("ascii")))
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
            return None
        payload = orjson.loads(b64decode(body))  # ours: the MAC matched
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            return None
        return payload
