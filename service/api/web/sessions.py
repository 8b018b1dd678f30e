"""Web sessions: a signed cookie naming the tenant, the secret it is signed with, CSRF
tokens, signing out.

The cookie (:data:`SESSION_COOKIE`) is a :mod:`service.api.web.signing` token holding the
tenant, a random session id, the expiry and a tag of the API key signed in with (an HMAC
of the key's digest, never the key): removing that key from ``DETEVAL_API_KEYS`` ends
the sessions it opened. It is ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, and
``Secure`` when the sign-in came over https: directly, or through a proxy whose
``X-Forwarded-Proto`` uvicorn believes (one at an address in its ``FORWARDED_ALLOW_IPS``,
the loopback by default).

A session's CSRF token is an HMAC of its id: pages put it in their forms and in
``<body data-csrf>`` for scripts, which send it as :data:`CSRF_HEADER`. A request that a
session cookie authenticates must carry it for anything but GET and HEAD. Signing out
records the session id in Redis until the cookie would have expired, so a copy of the
cookie stops working at once.

The signing secret is ``DETEVAL_SESSION_SECRET`` when set; otherwise one is generated
the first time it is needed and kept in Redis (:data:`SECRET_KEY`, set only if absent),
so every API process, on any host, signs and checks with the same one. A process reads
it once; to replace it, delete the key and restart the API processes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

import redis.asyncio
from fastapi import Request, Response

from service.api.auth import KeyRing
from service.api.errors import Unauthorized
from service.api.web.signing import Signer, b64encode
from service.backend.config import Settings

SESSION_COOKIE = "deteval_session"
#: The double-submit cookie of the sign-in form (a sign-in has no session to tie to).
SIGN_IN_COOKIE = "deteval_sign_in"
CSRF_HEADER = "X-CSRF-Token"
SECRET_KEY = "deteval:web:secret"
SIGNED_OUT_PREFIX = "deteval:web:signed-out:"
SAFE_METHODS = frozenset({"GET", "HEAD"})
SIGN_IN_FORM_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the tenant, the session's id, expiry and CSRF token."""

    tenant: str
    sid: str
    expires: float
    csrf: str


async def shared_secret(client: redis.asyncio.Redis, settings: Settings) -> bytes:
    """The signing secret: the configured one, else the one kept in Redis (made by the
    first process that asks)."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured.encode("utf-8")
    await client.set(SECRET_KEY, secrets.token_urlsafe(48), nx=True)
    kept = await client.get(SECRET_KEY)
    if kept is None:  # deleted between the two calls: only an operator does that
        raise redis.ConnectionError(f"{SECRET_KEY} vanished right after it was set")
    return str(kept).encode("utf-8")


def _equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Sessions:
    """Opens, reads and ends web sessions.

    Parameters
    ----------
    client : redis.asyncio.Redis
        The job store (``decode_responses=True``): the shared secret, signed-out ids.
    keys : KeyRing
    settings : Settings
    """

    def __init__(self, client: redis.asyncio.Redis, keys: KeyRing, settings: Settings) -> None:
        self.redis = client
        self.keys = keys
        self.settings = settings
        self._signer: Signer | None = None

    async def signer(self) -> Signer:
        """The signer of sessions and share links (the secret is read once)."""
        if self._signer is None:
            self._signer = Signer(await shared_secret(self.redis, self.settings))
        return self._signer

    def _key_tag(self, signer: Signer, digest: bytes) -> str:
        return b64encode(signer.mac("key", digest)[:12])

    def _csrf(self, signer: Signer, sid: str) -> str:
        return b64encode(signer.mac("csrf", sid.encode("ascii"))[:18])

    async def start(self, key: str, response: Response, request: Request) -> Session:
        """Sign in with an API key: set the session cookie on ``response``.

        Raises
        ------
        Unauthorized
            The key is not configured.
        """
        tenant, digest = self.keys.identify(key.strip())
        signer = await self.signer()
        sid = secrets.token_urlsafe(18)
        lifetime = self.settings.session_hours * 3600
        expires = time.time() + lifetime
        payload = {"t": tenant, "s": sid, "k": self._key_tag(signer, digest)}
        response.set_cookie(
            SESSION_COOKIE,
            signer.sign("session", payload, expires),
            max_age=int(lifetime),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return Session(tenant, sid, expires, self._csrf(signer, sid))

    async def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie value: None unless genuine, unexpired, of a key still
        configured and not signed out."""
        if not cookie:
            return None
        signer = await self.signer()
        payload = signer.read("session", cookie)
        if payload is None:
            return None
        tenant, sid, tag = payload.get("t"), payload.get("s"), payload.get("k")
        if not (isinstance(tenant, str) and isinstance(sid, str) and isinstance(tag, str)):
            return None
        if not any(_equal(tag, self._key_tag(signer, d)) for d in self.keys.digests(tenant)):
            return None
        if await self.redis.exists(SIGNED_OUT_PREFIX + sid):
            return None
        return Session(tenant, sid, float(payload["exp"]), self._csrf(signer, sid))

    async def end(self, session: Session, response: Response) -> None:
        """Sign out: the session id is refused from now on, the cookie is cleared."""
        remaining = max(1, int(session.expires - time.time()) + 1)
        await self.redis.set(SIGNED_OUT_PREFIX + session.sid, "1", ex=remaining)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

    async def for_api(self, request: Request, cookie: str) -> str:
        """The tenant of an API request authenticated by its session cookie.

        Raises
        ------
        Unauthorized
            The cookie is not a live session, or the request changes something without
            the session's CSRF token in :data:`CSRF_HEADER`.
        """
        session = await self.read(cookie)
        if session is None:
            raise Unauthorized("the session cookie is expired or invalid; sign in again")
        if request.method not in SAFE_METHODS and not _equal(
            request.headers.get(CSRF_HEADER), session.csrf
        ):
            raise Unauthorized(
                f"a session cookie authenticates {request.method} only with the session's "
                f"{CSRF_HEADER} header (as the web pages send it); scripts use "
                "'Authorization: Bearer KEY'"
            )
        return session.tenant

    def check_csrf(self, session: Session, given: str | None) -> bool:
        """Whether a form's ``csrf`` field is the session's token."""
        return _equal(given, session.csrf)

    async def new_sign_in(self) -> tuple[str, str]:
        """A sign-in form's nonce, for :data:`SIGN_IN_COOKIE`, and its token, for the form.

        Another site can neither read the cookie nor, as it is ``SameSite=Strict``, have
        it sent with a post of its own: a sign-in it forges is refused (login CSRF).
        """
        nonce = secrets.token_urlsafe(18)
        signer = await self.signer()
        return nonce, b64encode(signer.mac("sign-in", nonce.encode("ascii")))

    def set_sign_in_cookie(self, response: Response, request: Request, nonce: str) -> None:
        """Set the sign-in form's cookie, for the post of that form only."""
        response.set_cookie(
            SIGN_IN_COOKIE,
            nonce,
            max_age=SIGN_IN_FORM_SECONDS,
            path="/ui/sign-in",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    async def check_sign_in(self, request: Request, given: str | None) -> bool:
        """Whether a sign-in post carries the token of the cookie its form set."""
        nonce = request.cookies.get(SIGN_IN_COOKIE)
        if not nonce or not nonce.isascii():
            return False
        signer = await self.signer()
        return _equal(given, b64encode(signer.mac("sign-in", nonce.encode("ascii"))))
