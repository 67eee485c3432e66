"""Validate one of our CloudEvents against the JSON Schemas in docs/schemas/.

    from shared.schemas import validate
    validate(event_dict)        # None, or SchemaError naming the field and the rule

The schema is chosen by the first segment of `type` (appointment, organisation,
service, resource, client, workflow, notification); it covers the envelope
(`cloudevent.json`, which every family schema references) and `data`. Schemas
are loaded and compiled once, at first use (draft 2020-12, the `jsonschema`
library, a dev dependency).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "docs" / "schemas"
FAMILIES = ("appointment", "organisation", "service", "resource", "client", "workflow",
            "notification", "waitlist")
ENVELOPE = "cloudevent.json"


class SchemaError(ValueError):
    """An event that does not match its schema; `path` is where (e.g. data.appointment.status)."""

    def __init__(self, message: str, path: str = "", event_type: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.event_type = event_type


_validators: dict[str, Any] = {}
_lock = threading.Lock()


def _load() -> dict[str, Any]:
    """One compiled validator per family, the envelope resolvable by its $id."""
    with _lock:
        if not _validators:
            from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
            from referencing import Registry, Resource

            documents = {name: json.loads((SCHEMA_DIR / f"{name}.json").read_text())
                         for name in ("cloudevent", *(f"{f}.v1" for f in FAMILIES))}
            for doc in documents.values():
                Draft202012Validator.check_schema(doc)
            registry: Registry = Registry().with_resources(
                (doc["$id"], Resource.from_contents(doc)) for doc in documents.values())
            for family in FAMILIES:
                _validators[family] = Draft202012Validator(
                    documents[f"{family}.v1"], registry=registry,
                    format_checker=Draft202012Validator.FORMAT_CHECKER)
        return _validators


def validate(event: dict[str, Any]) -> None:
    """Raise SchemaError unless `event` (a CloudEvent as a dict) matches its type's schema."""
    if not isinstance(event, dict):
        raise SchemaError(f"an event is a JSON object, not {type(event).__name__}")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise SchemaError("the event has no 'type' attribute", "type")
    family = event_type.split(".", 1)[0]
    validators = _load()
    if family not in validators:
        raise SchemaError(f"no schema for events of type '{event_type}' (known families: "
                          f"{', '.join(FAMILIES)})", "type", event_type)
    errors = sorted(validators[family].iter_errors(event),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        first = errors[0]
        path = ".".join(str(p) for p in first.absolute_path) or "(event)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SchemaError(f"{event_type}: {path}: {_reason(first)}{more}", path, event_type)


def _reason(error: Any, limit: int = 300) -> str:
    """The most specific message (oneOf/anyOf wrap the useful one), kept short."""
    if error.context:
        from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
        return _reason(best_match(error.context), limit)
    message = str(error.message)
    return message if len(message) <= limit else message[:limit] + "..."
