"""/v1/shares: signed, expiring, revocable read-only links to a report or a leaderboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from service.api.deps import StateDep, TenantDep, WebDep
from service.api.openapi_docs import SHARE_LINKS
from service.api.problems import problems
from service.api.web.share_schemas import ShareInfo, ShareList, ShareRequest
from service.api.web.shares import ShareNotFound
from service.api.web.sharing import new_share, share_info

router = APIRouter(prefix="/shares", tags=["shares"])


@router.post(
    "",
    status_code=201,
    operation_id="create_share",
    responses={
        201: {
            "description": "Created: open its path with no key or sign-in.",
            "links": SHARE_LINKS,
        },
        **problems(
            400,
            401,
            422,
            503,
            described={404: "No such evaluation or dataset, or another tenant's."},
        ),
    },
)
async def create_share(
    body: ShareRequest, state: StateDep, web: WebDep, tenant: TenantDep
) -> ShareInfo:
    """Make a read-only link to one of your evaluations' report page (``kind=report``) or
    one of your datasets' leaderboard (``kind=leaderboard``), valid ``expires_in_days``.

    Whoever has the link can open that page (and, from a leaderboard, the reports of its
    finished evaluations) until it expires or is revoked, or the evaluation or dataset is
    deleted; nothing else.
    """
    share = await new_share(state, web, tenant, body.kind, body.resource_id, body.expires_in_days)
    return ShareInfo(**await share_info(web, share))


@router.get("", operation_id="list_shares", responses=problems(401, 503))
async def list_shares(web: WebDep, tenant: TenantDep) -> ShareList:
    """Your live share links (not expired, not revoked), the newest first."""
    shares = await web.shares.list(tenant)
    return ShareList(items=[ShareInfo(**await share_info(web, s)) for s in shares])


@router.delete(
    "/{share_id}",
    status_code=204,
    operation_id="revoke_share",
    responses={
        204: {"description": "Revoked: the link answers 410 from now on."},
        **problems(401, 503, described={404: "No live share link of yours has this id."}),
    },
)
async def revoke_share(
    share_id: Annotated[
        str,
        Path(
            description="The id of one of your share links (`id` in its listing).",
            examples=["5c0d6f1e2a3b4c5d6e7f8091a2b3c4d5"],
        ),
    ],
    web: WebDep,
    tenant: TenantDep,
) -> Response:
    """Revoke a share link at once, on every API process."""
    if not await web.shares.revoke(tenant, share_id):
        raise ShareNotFound(f"no live share link with id {share_id!r}")
    return Response(status_code=204)
