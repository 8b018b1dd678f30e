"""Share links: signed, expiring, revocable read-only URLs for one report or leaderboard.

A share is a Redis hash ``deteval:share:<id>`` (tenant, kind, resource, times) that
expires with the link, and a member of the tenant's index
``deteval:tenant:<tenant>:shares`` (scored by expiry). Its URL is ``/s/<token>``, the
token a :mod:`service.api.web.signing` token of the share's id and expiry; the token is
derived again from the record to list it, so nothing secret is stored.

Opening a link checks, in order: the signature (else 404), the expiry (else 410), the
record (gone: revoked, 410), then that what it shows still exists (else 404). Revoking
deletes the record, so a revoked link stops working at once on every API process.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

import redis.asyncio

from service.api.errors import NotFound, ServiceError
from service.api.web.sessions import Sessions

ShareKind = Literal["report", "leaderboard"]
KINDS: tuple[ShareKind, ...] = ("report", "leaderboard")
SHARE_PREFIX = "deteval:share:"
SHARE_ID = re.compile(r"[0-9a-f]{32}")


class ShareNotFound(NotFound):
    title = "Share link not found"
    slug = "share-not-found"


class ShareGone(ServiceError):
    """A share link that expired or was revoked."""

    status: ClassVar[int] = 410
    title: ClassVar[str] = "Share link expired or revoked"
    slug: ClassVar[str] = "share-gone"


def shares_key(tenant: str) -> str:
    """The index of a tenant's shares."""
    return f"deteval:tenant:{tenant}:shares"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Share:
    """One share link: whose, what it shows (``kind`` and the id of ``resource``), when."""

    id: str
    tenant: str
    kind: ShareKind
    resource: str
    created: float
    expires: float

    def public(self, token: str) -> dict[str, Any]:
        """The share as the HTTP API shows it, with its URL path."""
        return {
            "id": self.id,
            "kind": self.kind,
            "resource_id": self.resource,
            "path": f"/s/{token}",
            "created_at": _iso(self.created),
            "expires_at": _iso(self.expires),
        }


def _parse(share_id: str, raw: dict[str, str]) -> Share | None:
    if not raw or raw.get("kind") not in KINDS:
        return None
    return Share(
        id=share_id,
        tenant=raw["tenant"],
        kind=cast(ShareKind, raw["kind"]),
        resource=raw["resource"],
        created=float(raw["created"]),
        expires=float(raw["expires"]),
    )


class ShareStore:
    """Creates, lists, revokes and resolves share links.

    Parameters
    ----------
    client : redis.asyncio.Redis
        The job store (``decode_responses=True``).
    sessions : Sessions
        Its signer signs the links.
    """

    def __init__(self, client: redis.asyncio.Redis, sessions: Sessions) -> None:
        self.redis = client
        self.sessions = sessions

    async def token(self, share: Share) -> str:
        """The token of a share's URL (the same every time)."""
        signer = await self.sessions.signer()
        return signer.sign("share", {"s": share.id}, share.expires)

    async def create(self, tenant: str, kind: ShareKind, resource: str, seconds: float) -> Share:
        """A new share of ``tenant``'s ``resource`` valid for ``seconds``."""
        now = time.time()
        share = Share(secrets.token_hex(16), tenant, kind, resource, now, int(now + seconds))
        key = SHARE_PREFIX + share.id
        fields = {
            "tenant": tenant,
            "kind": kind,
            "resource": resource,
            "created": repr(share.created),
            "expires": repr(share.expires),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, items=[part for pair in fields.items() for part in pair])
            pipe.expireat(key, int(share.expires))
            pipe.zadd(shares_key(tenant), {share.id: share.expires})
            pipe.zremrangebyscore(shares_key(tenant), "-inf", now)
            await pipe.execute()
        return share

    async def get(self, share_id: str) -> Share | None:
        """A live share, or None (expired, revoked or never made)."""
        if not SHARE_ID.fullmatch(share_id):
            return None
        raw = await self.redis.hgetall(SHARE_PREFIX + share_id)
        return _parse(share_id, cast(dict[str, str], raw))

    async def list(self, tenant: str) -> list[Share]:
        """``tenant``'s live shares, the newest first."""
        key = shares_key(tenant)
        await self.redis.zremrangebyscore(key, "-inf", time.time())
        ids = cast(list[str], await self.redis.zrange(key, 0, -1))
        async with self.redis.pipeline(transaction=False) as pipe:
            for share_id in ids:
                pipe.hgetall(SHARE_PREFIX + share_id)
            raws = await pipe.execute()
        found = [_parse(i, raw) for i, raw in zip(ids, raws, strict=True)]
        live = [s for s in found if s is not None and s.tenant == tenant]
        return sorted(live, key=lambda s: s.created, reverse=True)

    async def revoke(self, tenant: str, share_id: str) -> bool:
        """End one of ``tenant``'s shares now; False if it has none of that id."""
        share = await self.get(share_id)
        if share is None or share.tenant != tenant:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(SHARE_PREFIX + share_id)
            pipe.zrem(shares_key(tenant), share_id)
            await pipe.execute()
        return True

    async def resolve(self, token: str) -> Share:
        """The live share a link's token names.

        Raises
        ------
        ShareNotFound
            Not a token of ours (malformed, tampered, another secret's).
        ShareGone
            It expired, or was revoked.
        """
        signer = await self.sessions.signer()
        payload = signer.read_expired("share", token)
        share_id = None if payload is None else payload.get("s")
        if payload is None or not isinstance(share_id, str):
            raise ShareNotFound("no such share link: check that it was copied whole")
        if payload["exp"] <= time.time():
            raise ShareGone(f"this share link expired at {_iso(payload['exp'])}")
        share = await self.get(share_id)
        if share is None:
            raise ShareGone("this share link was revoked by its owner")
        return share
