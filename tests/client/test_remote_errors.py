"""What the remote client makes of answers that are not a Clearance server's, and of the
server's own errors: the local exit codes, never a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clearance.client.remote import RemoteClient, RemoteNoGo, ServerError
from clearance.errors import (
    AuthenticationError,
    ForbiddenError,
    IntegrityError,
    NotFoundError,
    PlanError,
    UnreachableError,
)
from clearance.settings import Settings


def client(answer: httpx.Response | Exception) -> RemoteClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.Client(base_url="http://clearance.test", transport=httpx.MockTransport(handler))
    return RemoteClient(Settings(server="http://clearance.test", token="clr_x"), http)


def error(status: int, code: str, **details: Any) -> httpx.Response:
    body = {"error": {"code": code, "message": f"said {code}", "details": details}}
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("answer", "kind", "exit_code"),
    [
        (error(401, "unauthenticated", exit_code=77), AuthenticationError, 77),
        (error(403, "forbidden", exit_code=77), ForbiddenError, 77),
        (error(404, "not_found", exit_code=2), NotFoundError, 2),
        (error(409, "integrity", exit_code=3, failures=["event 3"]), IntegrityError, 3),
        (
            error(
                422,
                "invalid_plan",
                problems=[
                    {"file": "plan.yaml", "line": 2, "column": 3, "field": "x", "message": "bad"}
                ],
            ),
            PlanError,
            2,
        ),
        (error(409, "newer_code", exit_code=1), ServerError, 1),  # unknown code: server's exit
        (httpx.Response(502, text="<html>Bad Gateway</html>"), UnreachableError, 69),
        (httpx.Response(404, text="<html>Not Found</html>"), ServerError, 2),
        (httpx.Response(200, text="not json"), ServerError, 2),
        (httpx.ConnectError("refused"), UnreachableError, 69),
    ],
)
def test_answers_become_the_local_errors(
    answer: httpx.Response | Exception, kind: type, exit_code: int
) -> None:
    with pytest.raises(kind) as raised:
        client(answer).call("GET", "/systems")
    assert raised.value.exit_code == exit_code
    assert "Traceback" not in raised.value.message


def test_a_refused_release_carries_its_evaluation() -> None:
    evaluation = {"decision": "NO-GO", "candidate": "sha256:" + "0" * 64, "criteria": []}
    answer = error(409, "conflict", exit_code=1, evaluation=evaluation)
    with pytest.raises(RemoteNoGo) as refused:
        client(answer).call("POST", "/releases", json={})
    assert refused.value.exit_code == 1 and refused.value.evaluation.decision == "NO-GO"


def test_a_lost_answer_is_retried_with_the_same_key_but_a_refused_connection_is_not() -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key", ""))
        if len(keys) == 1:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(200, json={"ok": True})

    http = httpx.Client(base_url="http://clearance.test", transport=httpx.MockTransport(handler))
    remote = RemoteClient(Settings(server="http://clearance.test", token="clr_x"), http)
    assert remote.call("POST", "/checks", json={}) == {"ok": True}
    assert len(keys) == 2 and keys[0] == keys[1] != ""
    refused = client(httpx.ConnectError("refused"))
    with pytest.raises(UnreachableError):
        refused.call("POST", "/checks", json={})
