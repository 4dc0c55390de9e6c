"""The API keys page (admin): every key, a form to create one (its secret shown once on the
answer page, never again), and revocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from faceguard import CreatedKey
from faceguard.access.keys import ROLES
from faceguard.service.auth import AdminKey
from faceguard.service.deps import State
from faceguard.service.pages import FORM_ERRORS, HTML_ERRORS, JSON_ERRORS, see_other
from faceguard.service.problems import ProblemError
from faceguard.service.routes_keys import key_public
from faceguard.service.routes_keys import revoke_key as revoke_api
from faceguard.service.templating import render

router = APIRouter(tags=["pages"])


def keys_data(state: State) -> dict[str, Any]:
    return {"keys": [key_public(k).model_dump() for k in state.keys.list_keys()],
            "roles": list(ROLES), "purposes": sorted(state.fg.deployment.purposes),
            "level": state.keys.level}


@router.get("/keys", summary="API keys", response_class=HTMLResponse, responses=HTML_ERRORS)
def keys_page(request: Request, state: State, principal: AdminKey) -> Response:
    return render(request, "keys.html", principal=principal, created=None, **keys_data(state))


@router.get("/keys.json", summary="API keys (JSON)", responses=JSON_ERRORS)
def keys_json(state: State, principal: AdminKey) -> dict[str, Any]:
    return keys_data(state)


@router.post("/keys", summary="Create a key (form); the answer shows its secret once",
             response_class=HTMLResponse, responses=FORM_ERRORS)
def create_key(
    request: Request, state: State, principal: AdminKey,
    role: Annotated[str, Form(max_length=16)],
    holder: Annotated[str, Form(min_length=1, max_length=128)],
    purposes: Annotated[list[str] | None, Form(max_length=20)] = None,
    totp: Annotated[bool, Form()] = False,
) -> Response:
    if role not in ROLES:
        raise ProblemError("validation", f"role must be one of {', '.join(ROLES)}", status=422)
    created: CreatedKey = state.keys.create(role, holder, purposes or [], actor=principal.actor,
                                            with_totp=totp)
    return render(request, "keys.html", principal=principal, created=created,
                  status_code=201, **keys_data(state))


@router.post("/keys/{key_id}/revoke", summary="Revoke a key (form)", responses=FORM_ERRORS)
def revoke_key(state: State, principal: AdminKey,
               key_id: Annotated[str, Path(min_length=1, max_length=16,
                                           pattern=r"^k_[0-9a-f]+$")]) -> Response:
    revoke_api(state, principal, key_id)
    return see_other("/keys")
