"""Stored events are named by domain names (`appointment.Confirmed`), not Python class paths.

`name_events(Appointment, "appointment", formerly=...)` gives the aggregate and each of
its event classes an explicit topic (the library's `TOPIC`), so that moving or renaming
a Python class cannot break replay: only the domain name is in the store. An event class
that declares its own `TOPIC` keeps it (rename the class, keep the name).

Events stored before they had domain names carry class-path topics
(`services.booking.domain.appointment:Appointment.Confirmed`); `formerly` is that path
of the aggregate, and each event's old topic stays registered as an alias of its class.
"""
from __future__ import annotations

from typing import Any

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import register_topic


def event_classes(aggregate: type[Any]) -> list[type[Any]]:
    """The event classes of `aggregate` (its own and those the library redefined on it)."""
    return [v for k, v in vars(aggregate).items()
            if k != "Event" and isinstance(v, type) and issubclass(v, CanMutateAggregate)]


def name_events(aggregate: type[Any], name: str, *, formerly: str) -> None:
    aggregate.TOPIC = name
    register_topic(name, aggregate)
    register_topic(formerly, aggregate)
    for cls in event_classes(aggregate):
        topic = cls.__dict__.get("TOPIC") or f"{name}.{cls.__name__}"
        cls.TOPIC = topic
        register_topic(topic, cls)
        register_topic(f"{formerly}.{topic.removeprefix(name + '.')}", cls)
