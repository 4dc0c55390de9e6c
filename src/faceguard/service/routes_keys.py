"""API keys (admin): list, create (the secret is shown once), revoke; and ``/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from faceguard import ApiKey
from faceguard.service.auth import AdminKey, AnyKey
from faceguard.service.deps import State
from faceguard.service.problems import AUTH_ERRORS, ProblemError, responses
from faceguard.service.schemas import KeyCreate, KeyCreatedPublic, KeyPublic, MePublic

router = APIRouter(prefix="/api/v1", tags=["keys"])
KeyId = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^k_[0-9a-f]+$")]


def key_public(key: ApiKey) -> KeyPublic:
    return KeyPublic(id=key.id, holder=key.holder, role=key.role, purposes=list(key.purposes),
                     created_at=key.created_at, created_by=key.created_by,
                     last_used_at=key.last_used_at, revoked_at=key.revoked_at,
                     has_totp=key.has_totp)


@router.get("/me", response_model=MePublic, responses=responses(*AUTH_ERRORS),
            summary="The key making this request")
def me(principal: AnyKey) -> MePublic:
    return MePublic(key=key_public(principal.key), via=principal.via,
                    second_factor=principal.second_factor)


@router.get("/keys", response_model=list[KeyPublic], responses=responses(*AUTH_ERRORS),
            summary="Every API key (never the secrets)")
def list_keys(state: State, principal: AdminKey) -> list[KeyPublic]:
    return [key_public(k) for k in state.keys.list_keys()]


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreatedPublic,
             responses=responses(*AUTH_ERRORS, 400),
             summary="Create a key; its secret is in this answer and nowhere else")
def create_key(state: State, principal: AdminKey, body: KeyCreate) -> KeyCreatedPublic:
    created = state.keys.create(body.role, body.holder, body.purposes, actor=principal.actor,
                                with_totp=body.totp)
    return KeyCreatedPublic(key=key_public(created.key), secret=created.secret,
                            totp_secret=created.totp_secret, totp_uri=created.totp_uri)


@router.delete("/keys/{key_id}", response_model=KeyPublic,
               responses=responses(*AUTH_ERRORS, 404, 409),
               summary="Revoke a key now; its sessions end")
def revoke_key(state: State, principal: AdminKey, key_id: KeyId) -> KeyPublic:
    target = state.keys.get(key_id)
    admins = [k for k in state.keys.list_keys(active_only=True) if k.role == "admin"]
    if target.role == "admin" and target.revoked_at is None and len(admins) == 1:
        raise ProblemError("conflict", "this is the last active admin key; create another "
                           "first (or use `faceguard keys create` on the server)")
    revoked = state.keys.revoke(key_id, actor=principal.actor)
    state.sessions.end_key(key_id)
    return key_public(revoked)
