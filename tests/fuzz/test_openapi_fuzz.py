"""Property-based fuzzing of every operation of the four services from their own OpenAPI
(schemathesis), authenticated as a user and as an admin, over real uvicorn, PostgreSQL and Redis.

Each operation gets `TRIPGEN_FUZZ_EXAMPLES` examples (default 3: the CI budget) of valid data and
as many of invalid data; `nox -s fuzz` raises the count. What must hold for every answer: no
server error (5xx), the status code and content type are documented for the operation, the body
conforms to the documented schema, and invalid input is refused (4xx).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.stack import SERVICES, Identity, Server

EXAMPLES = int(os.environ.get("TRIPGEN_FUZZ_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Tally:
    """What one service's fuzzing did and found."""

    operations: int = 0
    examples: int = 0
    failures: list[str] = field(default_factory=list)
    no_invalid_input: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


# Operations that end the caller's session: each of their examples gets a fresh account.
SESSION_ENDING = {"POST /api/users/logout", "DELETE /api/users/me"}


def fuzz_operation(
    operation: Any,
    base_url: str,
    new_identity: Callable[[], Identity],
    mode: GenerationMode,
    tally: Tally,
) -> None:
    session = requests.Session()
    strategy = operation.as_strategy(generation_mode=mode)
    identity = new_identity()
    per_example = f"{operation.method.upper()} {operation.path}" in SESSION_ENDING

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )  # fmt: skip
    def run(case: schemathesis.Case) -> None:
        caller = new_identity() if per_example else identity
        tally.examples += 1
        response = case.call(base_url=base_url, session=session, headers=caller.headers)
        tally.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=caller.headers)

    try:
        run()
    except Unsatisfiable:
        tally.no_invalid_input.append(str(operation))  # nothing to negate (no parameters)
    except Exception as exc:  # one operation's failure must not hide the others'
        tally.failures.append(f"{operation} [{identity.role}, {mode.value}]: {exc}")
    finally:
        session.close()


# A route each identity must be able to use: the fuzzing is not all 401s.
SIGNED_IN_PROBES = {
    "user": "/api/users/me",
    "trip": "/api/trips",
    "ai": None,
    "location": "/api/locations/cities",
}


@pytest.mark.parametrize("role", ["USER", "ADMIN"])
@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_schema_conformant_answers(
    stack: dict[str, Server], new_identity: Callable[[str], Identity], service: str, role: str
) -> None:
    server = stack[service]
    if probe := SIGNED_IN_PROBES[service]:
        headers = new_identity(role).headers
        answer = requests.get(server.base_url + probe, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
    schema = schemathesis.openapi.from_dict(server.app.openapi())
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a broken schema
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, server.base_url, lambda: new_identity(role), mode, tally)
    print(
        f"{service} as {role}: {tally.operations} operations, {tally.examples} examples, "
        f"statuses {dict(sorted(tally.statuses.items()))}"
    )
    assert tally.operations > 0
    assert not tally.failures, "\n\n".join(tally.failures)
