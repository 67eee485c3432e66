"""Every operation of the four services' OpenAPI documents, and arguments for it:
the security tests call what the documents list, so a new endpoint is covered
without touching them."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from deploy.stack import Stack

METHODS = ("get", "post", "put", "patch", "delete")
DATE, START, END = "2030-03-04", "2030-03-04T09:00:00+00:00", "2030-03-04T09:30:00+00:00"
# Parameters whose documents give no type (custom marshmallow fields) or no choices
BY_NAME = {"from": DATE, "to": DATE, "at": START, "action": "cancel"}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str           # GET, POST, ...
    path: str             # as documented: /v1/appointments/{appointment_id}
    spec: dict[str, Any]  # the operation object
    document: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def public(self) -> bool:
        """Documented as needing no bearer token (`security: []`)."""
        return self.spec.get("security") == []


def operations(stack: Stack) -> list[Operation]:
    found = []
    for service in stack.ports:
        document = requests.get(stack.url(service) + "/openapi.json", timeout=10).json()
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    found.append(Operation(service, method.upper(), path, item[method], document))
    return found


class Arguments:
    """Arguments for any operation: `ids` by parameter or field name (another
    organisation's, in the tenancy test), anything else made up from the schema.
    Optional query parameters are passed when `ids` or BY_NAME has a value."""

    def __init__(self, ids: dict[str, Any]) -> None:
        self.ids = {**BY_NAME, **ids}

    def request(self, op: Operation) -> tuple[str, dict[str, Any], Any]:
        """(path, query, JSON body or None) for a call of `op`."""
        path, query = op.path, {}
        for p in op.spec.get("parameters", []) + op.document["paths"][op.path].get("parameters",
                                                                                   []):
            p = self._resolve(op, p)
            value = self._value(op, p["name"], p.get("schema", {}))
            if p["in"] == "path":
                path = path.replace("{" + p["name"] + "}", str(value))
            elif p["in"] == "query" and (p.get("required") or p["name"] in self.ids):
                query[p["name"]] = value
        content = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
        body = self._example(op, content["schema"], "") if content else None
        return path, query, body

    def _value(self, op: Operation, name: str, schema: dict[str, Any]) -> Any:
        if name == "entry_id":  # /v1/services/{entry_id}: the entry of that kind
            name = op.path.split("/")[2].rstrip("s") + "_id"
        return self._example(op, schema, name)

    def _example(self, op: Operation, schema: dict[str, Any], name: str) -> Any:
        schema = self._resolve(op, schema)
        if name in self.ids:
            return self.ids[name]
        if schema.get("enum"):
            return schema["enum"][0]
        kind, fmt = schema.get("type"), schema.get("format")
        if kind == "object" or "properties" in schema:
            return {k: self._example(op, v, k) for k, v in schema.get("properties", {}).items()
                    if k in schema.get("required", [])}
        if kind == "array":
            return [self._example(op, schema.get("items", {}), name)]
        if kind in ("integer", "number"):
            return max(1, schema.get("minimum", 1))
        if kind == "boolean":
            return False
        return {"date": DATE, "date-time": END if name == "end" else START,
                "email": "someone@example.com", "uuid": str(uuid.uuid4())}.get(fmt or "", "x")

    @staticmethod
    def _resolve(op: Operation, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = op.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node
