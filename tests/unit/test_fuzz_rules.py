"""The rules the fuzzing judges answers by, and the portal's forms it describes."""

from __future__ import annotations

import json
from typing import Any

import requests
from schemathesis.core.transport import Response

from tests.fuzz.forms import FORM, verbs, with_forms
from tests.fuzz.harness import PROBLEM, problem_fault


def answer(status: int, kind: str, body: Any) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": [kind]}
    return Response(status, headers, content, requests.PreparedRequest(), 0.01, True)


def test_an_error_is_a_problem_document_with_its_own_status_a_title_and_a_detail() -> None:
    good = {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "it is closed"}
    assert problem_fault(answer(409, PROBLEM, good)) is None
    assert "application/json" in str(problem_fault(answer(409, "application/json", good)))
    assert "text/html" in str(problem_fault(answer(422, "text/html; charset=utf-8", b"<p>")))
    assert "not JSON" in str(problem_fault(answer(422, PROBLEM, b"{")))
    assert "status" in str(problem_fault(answer(422, PROBLEM, good)))
    untitled = {"status": 404, "detail": "no grievance"}
    assert "title" in str(problem_fault(answer(404, PROBLEM, untitled)))


DOCUMENT: dict[str, Any] = {
    "paths": {
        "/grievances": {"post": {"requestBody": {"content": {"application/json": {}}}}},
        "/grievances/{case_id}/close": {"post": {}},
        "/grievances/{case_id}/history": {"get": {}},
        "/grievances/{case_id}/{verb}": {"post": {}},
    }
}


def test_the_portal_steps_are_the_services_verbs_and_its_forms_take_every_field() -> None:
    assert verbs([DOCUMENT]) == ["close"]
    described = with_forms(DOCUMENT, ["note", "due"])
    form = described["paths"]["/grievances/{case_id}/{verb}"]["post"]["requestBody"]
    assert set(form["content"][FORM]["schema"]["properties"]) == {"note", "due"}
    # A route that names its body keeps it; the document given is left as it was.
    assert "application/json" in described["paths"]["/grievances"]["post"]["requestBody"]["content"]
    assert DOCUMENT["paths"]["/grievances/{case_id}/close"]["post"] == {}
