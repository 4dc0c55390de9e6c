"""What every route depends on: the service state built once by ``create_app``.

``FG`` is the one ``Faceguard`` object; ``State`` gives the settings, its API keys
(``fg.api_keys``), sessions, throttle and metrics. Both come from ``app.state`` (never from
module globals), so each test builds its own app around its own fresh store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from faceguard import ApiKeys
from faceguard.access.sessions import Sessions, Throttle
from faceguard.api.faceguard import Faceguard
from faceguard.service.metrics import Metrics
from faceguard.service.settings import ServiceSettings


@dataclass
class ServiceState:
    """Everything the routes share, built once per app."""

    fg: Faceguard
    settings: ServiceSettings
    keys: ApiKeys
    throttle: Throttle
    sessions: Sessions
    metrics: Metrics = field(default_factory=Metrics)


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def get_fg(request: Request) -> Faceguard:
    return get_state(request).fg


State = Annotated[ServiceState, Depends(get_state)]
FG = Annotated[Faceguard, Depends(get_fg)]
