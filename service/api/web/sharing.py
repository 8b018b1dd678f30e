"""Making share links, and what they show: the rules both the API and the pages use."""

from __future__ import annotations

from typing import Any

from service.api.errors import InvalidInput
from service.api.reports import own_dataset, own_job
from service.api.state import AppState
from service.api.web.shares import Share, ShareKind
from service.api.web.state import WebState

DAY = 86400.0
DEFAULT_DAYS = 7.0


async def new_share(
    state: AppState,
    web: WebState,
    tenant: str,
    kind: ShareKind,
    resource_id: str,
    days: float | None,
) -> Share:
    """A new share link of one of ``tenant``'s evaluations (``report``) or datasets
    (``leaderboard``), valid ``days`` days (None: :data:`DEFAULT_DAYS`, or
    DETEVAL_SHARE_MAX_DAYS if shorter).

    Raises
    ------
    InvalidInput
        ``days`` is beyond DETEVAL_SHARE_MAX_DAYS.
    EvaluationNotFound, DatasetNotFound
        No such evaluation or dataset of ``tenant``'s.
    """
    longest = state.settings.share_max_days
    if days is None:
        days = min(DEFAULT_DAYS, longest)
    if not 0 < days <= longest:
        raise InvalidInput(
            "expires_in_days",
            "body.expires_in_days",
            f"{days:g} days; a share link lasts more than 0 and at most {longest:g} days "
            "(DETEVAL_SHARE_MAX_DAYS)",
        )
    if kind == "report":
        await own_job(state, tenant, resource_id)
    else:
        await own_dataset(state, tenant, resource_id)
    return await web.shares.create(tenant, kind, resource_id, days * DAY)


async def share_info(web: WebState, share: Share) -> dict[str, Any]:
    """The share as the API shows it, with the path of its link."""
    return share.public(await web.shares.token(share))
