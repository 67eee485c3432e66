"""One spelling: every path segment is snake_case, and an action's segment is its
name exactly as `allowed_actions` and the history give it, so a client POSTs what
the 409 (or the workflow) names without translating it."""
from __future__ import annotations

import re
from typing import Any

from booking_http_support import Api, slot
from flask import Flask

from shared import links
from shared.domain import lifecycle

CREATIONS = {"request", "create"}   # POST /v1/appointments and /v1/appointments/for_client


def test_every_path_segment_is_snake_case(flask_app: Flask) -> None:
    paths = flask_app.test_client().get("/openapi.json").get_json()["paths"]
    literal = {segment for path in paths for segment in path.split("/")
               if segment and not segment.startswith("{")}
    assert literal and all(re.fullmatch(r"[a-z0-9_]+", s) for s in literal), sorted(literal)


def test_every_action_of_the_lifecycle_is_posted_to_its_own_name(flask_app: Flask) -> None:
    posts = {path for path, item in
             flask_app.test_client().get("/openapi.json").get_json()["paths"].items()
             if "post" in item}
    for action in set(lifecycle.ACTIONS) - CREATIONS:
        assert {f"/v1/appointments/{{appointment_id}}/{action}",
                f"/v1/client_actions/{action}"} & posts, action


def test_the_allowed_actions_of_a_409_are_the_paths_to_post_to(flask_app: Flask, api: Api,
                                                               seed: Any) -> None:
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9), "agent_id": seed.agent}
                   ).get_json()["appointment"]["id"]
    refused = api.post(f"/v1/appointments/{aid}/attend", {})     # a request: not yet
    assert refused.status_code == 409, refused.get_json()
    allowed = refused.get_json()["allowed_actions"]
    assert "request_reschedule" in allowed, allowed
    paths = flask_app.test_client().get("/openapi.json").get_json()["paths"]
    assert all(f"/v1/appointments/{{appointment_id}}/{a}" in paths for a in allowed), allowed
    answer = api.post(f"/v1/appointments/{aid}/request_reschedule",
                      {"message": "Another time, please"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["appointment"]["status"] == "reschedule_requested"
    assert api.post(f"/v1/appointments/{aid}/request-reschedule", {}).status_code == 404


def test_a_link_emailed_before_the_rename_still_works(flask_app: Flask, api: Api,
                                                      seed: Any) -> None:
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9), "agent_id": seed.agent}
                   ).get_json()["appointment"]["id"]
    token = links.sign(aid, "cancel")
    old = flask_app.test_client().post(f"/v1/client-actions/cancel?token={token}", json={})
    assert old.status_code == 308   # same method and body, at the one spelling
    assert old.headers["Location"].endswith(f"/v1/client_actions/cancel?token={token}")
    followed = flask_app.test_client().post(old.headers["Location"], json={})
    assert followed.status_code == 200 and \
        followed.get_json()["appointment"]["status"] == "cancelled"
