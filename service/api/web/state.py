"""What the web interface adds to an API process: sessions and share links."""

from __future__ import annotations

from dataclasses import dataclass

from service.api.state import AppState
from service.api.web.sessions import Sessions
from service.api.web.shares import ShareStore


@dataclass
class WebState:
    """The session keeper and the share store, on the job store's asyncio client."""

    sessions: Sessions
    shares: ShareStore

    @classmethod
    def build(cls, state: AppState) -> WebState:
        sessions = Sessions(state.jobs.redis, state.keys, state.settings)
        return cls(sessions=sessions, shares=ShareStore(state.jobs.redis, sessions))
