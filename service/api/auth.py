"""API keys mapped to tenants, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from service.api.errors import Unauthorized


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The API keys a service accepts, each naming the tenant it acts for.

    Parameters
    ----------
    pairs : list of (str, str)
        ``(tenant, key)`` pairs, as :meth:`service.backend.config.Settings.tenant_keys` returns.

    Notes
    -----
    Keys are kept as SHA-256 digests and a presented key is compared with every stored
    digest by :func:`hmac.compare_digest`, without stopping at a match, so the time taken
    does not reveal which key (or how much of one) matched.
    """

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            raise ValueError("no API keys configured: set DETEVAL_API_KEYS='tenant:key,...'")
        self._entries = [(tenant, _digest(key)) for tenant, key in pairs]

    def tenant_for(self, key: str | None) -> str:
        """The tenant a presented bearer key (None when absent) authenticates.

        Raises
        ------
        Unauthorized
            No key, or a key that is not configured.
        """
        return self.identify(key)[0]

    def identify(self, key: str | None) -> tuple[str, bytes]:
        """The tenant a presented key authenticates, and the key's SHA-256 digest (what a
        web session remembers of it, so that removing the key ends the session).

        Raises
        ------
        Unauthorized
            No key, or a key that is not configured.
        """
        if not key:
            raise Unauthorized("missing or malformed Authorization header; send 'Bearer KEY'")
        presented = _digest(key)
        found: str | None = None
        for tenant, digest in self._entries:
            if hmac.compare_digest(presented, digest):
                found = tenant
        if found is None:
            raise Unauthorized("unknown API key")
        return found, presented

    def digests(self, tenant: str) -> list[bytes]:
        """The digests of ``tenant``'s configured keys (none for an unknown tenant)."""
        return [digest for owner, digest in self._entries if owner == tenant]
