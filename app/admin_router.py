"""Administration over HTTP: API tokens and their seal grants."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.tokens import TokenService


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    seals: list[str] = Field(default_factory=list, max_length=1000)


class TokenOut(BaseModel):
    token_id: str
    token: str


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seal_id: str = Field(min_length=1, max_length=40)


def build_router(tokens: TokenService, require) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.post("/api/v1/tokens", status_code=201, response_model=TokenOut)
    def create_token(body: TokenIn, principal=require("token.manage")):
        with tokens.db.unit_of_work() as s:
            token = tokens.create(s, body.role, body.name, principal.actor, body.seals)
        return TokenOut(token_id=tokens.authenticate(token).token_id, token=token)

    @router.post("/api/v1/tokens/{token_id}/seals", status_code=204)
    def grant_seal(token_id: str, body: GrantIn, principal=require("token.manage")):
        with tokens.db.unit_of_work() as s:
            tokens.grant_seal(s, token_id, body.seal_id, principal.actor)

    return router
