"""The mapper that seals a client's personal data inside stored events (crypto-shredding).

Booking's events pass through the `eventsourcing` library's mapper on their way into
the store and out of it, so every path sees the same thing: commands, `?version=`,
the relay, the events feed, rebuilds. Storing, each personal value
(domain/personal_data.py) becomes `{"$sealed": base64(nonce + AES-GCM ciphertext)}`
under the key of the event's subject (keys.py); the rest of the event stays plain JSON,
so the stored bytes (what the hash chain covers) never change again. Reading, a sealed
value is opened with the subject's key; once the key is destroyed it, and any plain
value of an event stored before sealing existed, reads as erased.
"""
from __future__ import annotations

import base64
import json
import os
from copy import deepcopy
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from services.booking.application.ports import Keys, saving_for
from services.booking.domain import personal_data

SEALED = "$sealed"
MAPPER_TOPIC = "services.booking.adapters.sealing:SealingMapper"


class SealingMapper(Mapper[Any]):
    keys: Keys | None = None   # set by BookingBase before the first event is stored

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        topic = get_topic(type(domain_event))
        state = deepcopy(dict(vars(domain_event)))
        found = personal_data.places(topic, state)
        if found:
            subject = str(domain_event.originator_id)
            key = self._keys().key_for(
                state.get("organisation_id") or saving_for.get(), subject,
                personal_data.client_of(topic, state, subject))
            for holder, name in found:
                holder[name] = (_seal(key, subject, name, holder[name]) if key
                                else personal_data.ERASED[name])
            domain_event = object.__new__(type(domain_event))
            object.__setattr__(domain_event, "__dict__", state)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        state = event.__dict__
        found = personal_data.places(stored_event.topic, state)
        if found:
            subject = str(stored_event.originator_id)
            key, erased = self._keys().lookup(subject)
            for holder, name in found:
                if erased:
                    holder[name] = personal_data.ERASED[name]
                elif _is_sealed(holder[name]):
                    holder[name] = _open(key, subject, name, holder[name][SEALED])
        return event

    def _keys(self) -> Keys:
        if self.keys is None:
            raise RuntimeError("SealingMapper has no key store (BookingBase sets it)")
        return self.keys


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and SEALED in value


def _seal(key: bytes, subject: str, name: str, value: Any) -> dict[str, str]:
    nonce = os.urandom(12)
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = AESGCM(key).encrypt(nonce, data, f"{subject}/{name}".encode())
    return {SEALED: base64.b64encode(nonce + sealed).decode("ascii")}


def _open(key: bytes | None, subject: str, name: str, token: str) -> Any:
    if key is None:  # sealed with a key that is gone
        return personal_data.ERASED[name]
    raw = base64.b64decode(token)
    data = AESGCM(key).decrypt(raw[:12], raw[12:], f"{subject}/{name}".encode())
    return json.loads(data)
