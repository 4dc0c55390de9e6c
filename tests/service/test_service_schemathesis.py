"""schemathesis against /openapi.json: no 5xx on any generated input (valid or not), and
every response matches the documented status codes, content types and schemas.

Each operation is called with a key of a role it admits (read from its ``x-roles``), so the
generated data reaches the handlers instead of stopping at 403. Examples per operation are
few and derandomized to keep the suite fast and repeatable.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from faceguard import Faceguard
from faceguard.service import ServiceSettings
from test_service_support import make_service

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]


def fuzz(operation: APIOperation, mode: GenerationMode, count: int, headers: dict[str, str]
         ) -> Callable[[], None]:
    """A Hypothesis test calling ``operation`` with ``count`` generated cases."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        # schemathesis also fuzzes the security schemes: send the role's real key instead
        for name in list(case.headers or {}):
            if name.lower() in ("authorization", "x-api-key", "cookie"):
                del case.headers[name]
        for name in list(case.cookies or {}):
            del case.cookies[name]
        case.call_and_validate(headers=headers, checks=CHECKS)

    return run


def test_every_operation_conforms_to_its_schema(fg: Faceguard) -> None:
    # fuzzing /-/login fails on purpose; lockouts are tested in test_service_auth
    service = make_service(fg, ServiceSettings(auth_failures=10**6))
    schema = schemathesis.openapi.from_asgi("/openapi.json", service.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 30
    failures: list[str] = []
    for operation in operations:
        roles = operation.definition.raw.get("x-roles", ["public"])
        headers = service.auth(None if roles == ["public"] else roles[0])
        for mode, count in EXAMPLES.items():
            try:
                fuzz(operation, mode, count, headers)()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (AssertionError, BaseExceptionGroup) as exc:  # report every operation
                failures.append(f"{operation.label} ({mode.value}): {exc}\n"
                                + "\n".join(str(e) for e in getattr(exc, "exceptions", ())))
    assert not failures, "\n\n".join(failures)
    # the keys worked: every operation answered something other than 401/403/429 at least once
    answered: dict[str, set[int]] = {}
    for (_method, route, status), _count in service.app.state.service.metrics.requests.items():
        answered.setdefault(route, set()).add(int(status))
    blocked = sorted(r for r, codes in answered.items() if codes <= {401, 403, 429})
    assert blocked == [], blocked
    assert {op.path for op in operations} <= set(answered)
