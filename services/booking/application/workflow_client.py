"""The workflow authority, as booking sees it (docs/contracts.md, "Workflow service API").

`HttpWorkflowClient` talks to the workflow service (one `requests.Session` per
thread, a cached `service` token per organisation) and caches definitions and
workflow's verdicts, both immutable per published version: workflow's answer for
(organisation, workflow, version, from, action, to) is a pure function of that
version, so a status change on a version already asked about makes no call. The
latest version is asked for on every new request (never cached), and that answer
is also the verdict for the action's first target. When workflow cannot be reached
it validates locally with shared.domain.lifecycle against the cached version (and
records that version); with nothing cached it answers 503 with Retry-After.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from shared import auth
from shared.domain import lifecycle
from shared.domain.lifecycle import Definition
from shared.errors import Conflict, Unavailable

log = logging.getLogger(__name__)
RETRY_AFTER = {"Retry-After": "5"}
# Verdicts kept per process (least recently used dropped first): a version's
# statuses x actions is at most a few hundred keys, so this holds dozens of versions.
VERDICTS = 4096


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    workflow: dict[str, Any]
    to_status: str
    status_kind: str
    allowed_actions: list[str]


class WorkflowPort(Protocol):
    def definition(self, organisation_id: str, workflow_id: str, version: int | None,
                   action: str = "request") -> Definition: ...

    def validate(self, organisation_id: str, definition: Definition, from_status: str | None,
                 action: str, to_status: str) -> Verdict: ...


class WorkflowNotFound(Conflict):
    title = "Workflow not found"

    def __init__(self, workflow_id: str, version: int | None) -> None:
        super().__init__(f"workflow {workflow_id} (version {version or 'latest'}) is not known "
                         "for this organisation", workflow_id=workflow_id)


def local_verdict(d: Definition, from_status: str | None, action: str, to_status: str) -> Verdict:
    """The rules of shared.domain.lifecycle, which the workflow service also applies."""
    status = d.status(to_status)
    return Verdict(lifecycle.is_allowed(d, from_status, action, to_status),
                   {"id": d.id, "version": d.version}, to_status, status.kind if status else "",
                   lifecycle.allowed_actions(d, from_status))


class Unreachable(Exception):
    """Workflow did not answer (connection, time-out, 5xx)."""


VerdictKey = tuple[str, str, int, str | None, str, str]  # org, workflow, version, from, action, to


class HttpWorkflowClient:
    def __init__(self, base_url: str, timeout: tuple[float, float] = (2.0, 5.0)) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread
        self._definitions: dict[tuple[str, str, int], Definition] = {}
        self._verdicts: OrderedDict[VerdictKey, Verdict] = OrderedDict()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """This thread's keep-alive session (gunicorn runs threads per worker)."""
        if not hasattr(self._local, "session"):
            session = requests.Session()
            # Workflow is an internal URL: never reached through a proxy. With trust_env
            # requests reads the proxy (and netrc) settings from the environment on every
            # call, about 3 ms of CPU per command in cProfile.
            session.trust_env = False
            self._local.session = session
        return self._local.session

    def definition(self, organisation_id: str, workflow_id: str, version: int | None,
                   action: str = "request") -> Definition:
        """The published `version`; None asks workflow for the latest, and its answer is
        kept as the verdict for `action`'s first target from no status (a new appointment)."""
        if version is None:
            try:
                version = self._latest_version(organisation_id, workflow_id, action)
            except Unreachable:
                return self._latest_cached(organisation_id, workflow_id)
        key = (organisation_id, workflow_id, version)
        with self._lock:
            if key in self._definitions:
                return self._definitions[key]
        try:
            body = self._call("GET", f"/v1/workflows/{workflow_id}/versions/{version}",
                              organisation_id)
        except Unreachable as e:
            raise Unavailable(f"the workflow service is unreachable and workflow {workflow_id} "
                              f"v{version} is not cached yet; retry shortly",
                              headers=RETRY_AFTER) from e
        if body is None:
            raise WorkflowNotFound(workflow_id, version)
        d = Definition.from_dict(body)
        with self._lock:
            self._definitions[key] = d
        return d

    def validate(self, organisation_id: str, definition: Definition, from_status: str | None,
                 action: str, to_status: str) -> Verdict:
        key = (organisation_id, definition.id, definition.version, from_status, action, to_status)
        cached = self._cached_verdict(key)
        if cached is not None:
            return cached
        try:
            body = self._validate(organisation_id, definition.id, definition.version,
                                  from_status, action, to_status)
        except Unreachable:
            log.warning("workflow unreachable: validating locally", extra={"fields": {
                "workflow": definition.id, "version": definition.version, "action": action}})
            return local_verdict(definition, from_status, action, to_status)
        if body is None:
            raise WorkflowNotFound(definition.id, definition.version)
        return self._keep(organisation_id, from_status, action, to_status, body)

    def _latest_version(self, organisation_id: str, workflow_id: str, action: str) -> int:
        # The contract has no "latest" lookup: a validation with version null
        # names the latest published version in its answer (to_status null asks
        # for the action's first target, so no status key has to be guessed).
        body = self._validate(organisation_id, workflow_id, None, None, action, None)
        if body is None:
            raise WorkflowNotFound(workflow_id, None)
        if body.get("to_status"):
            self._keep(organisation_id, None, action, str(body["to_status"]), body)
        return int(body["workflow"]["version"])

    def _keep(self, organisation_id: str, from_status: str | None, action: str, to_status: str,
              body: dict[str, Any]) -> Verdict:
        """Workflow's answer as a verdict, kept under the version it names (the one it
        was checked against, so never used for another version)."""
        verdict = Verdict(bool(body["allowed"]), dict(body["workflow"]),
                          body.get("to_status") or to_status, body.get("status_kind") or "",
                          list(body.get("allowed_actions", [])))
        key = (organisation_id, str(verdict.workflow["id"]), int(verdict.workflow["version"]),
               from_status, action, to_status)
        with self._lock:
            self._verdicts[key] = verdict
            self._verdicts.move_to_end(key)
            while len(self._verdicts) > VERDICTS:
                self._verdicts.popitem(last=False)
        return _copy(verdict)

    def _cached_verdict(self, key: VerdictKey) -> Verdict | None:
        with self._lock:
            verdict = self._verdicts.get(key)
            if verdict is None:
                return None
            self._verdicts.move_to_end(key)
        return _copy(verdict)

    def _latest_cached(self, organisation_id: str, workflow_id: str) -> Definition:
        with self._lock:
            cached = [d for (org, wid, _), d in self._definitions.items()
                      if org == organisation_id and wid == workflow_id]
        if not cached:
            raise Unavailable(f"the workflow service is unreachable and no version of workflow "
                              f"{workflow_id} is cached yet; retry shortly", headers=RETRY_AFTER)
        return max(cached, key=lambda d: d.version)

    def _validate(self, organisation_id: str, workflow_id: str, version: int | None,
                  from_status: str | None, action: str,
                  to_status: str | None) -> dict[str, Any] | None:
        return self._call("POST", "/v1/transitions/validate", organisation_id, json={
            "workflow_id": workflow_id, "version": version, "from_status": from_status,
            "action": action, "to_status": to_status})

    def _call(self, method: str, path: str, organisation_id: str,
              json: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON answer, None for 404; Unreachable for no answer or 5xx."""
        headers = {"Authorization": f"Bearer {self._token(organisation_id)}"}
        try:
            r = self.session().request(method, self.base_url + path, json=json, headers=headers,
                                     timeout=self.timeout)
        except requests.RequestException as e:
            raise Unreachable(str(e)) from e
        if r.status_code == 404:
            return None
        if r.status_code >= 500:
            raise Unreachable(f"{r.status_code} from workflow")
        if r.status_code >= 400:
            raise Unavailable(f"the workflow service refused booking's call ({r.status_code}): "
                              f"{r.text[:200]}", headers=RETRY_AFTER)
        result: dict[str, Any] = r.json()
        return result

    def _token(self, organisation_id: str) -> str:
        with self._lock:
            token, expires = self._tokens.get(organisation_id, ("", 0.0))
            if time.time() > expires - 60:
                token = auth.issue(organisation_id, ["service"], subject="booking", ttl=3600)
                self._tokens[organisation_id] = (token, time.time() + 3600)
            return token


def _copy(v: Verdict) -> Verdict:
    """A verdict whose mutable parts the caller may keep (events carry them)."""
    return Verdict(v.allowed, dict(v.workflow), v.to_status, v.status_kind,
                   list(v.allowed_actions))
