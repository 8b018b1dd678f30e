"""All /v1 routes."""

from fastapi import APIRouter

from service.api.routes import datasets, evaluations, health, shares

api_router = APIRouter()
# Routes are matched in order: evaluations first, as status polls are most of the traffic.
api_router.include_router(evaluations.router)
api_router.include_router(datasets.router)
api_router.include_router(health.router)
api_router.include_router(shares.router)
