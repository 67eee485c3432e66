"""shared/history.py: one event -> one audit entry, the same for booking and projections."""
from __future__ import annotations

from shared import history

BEFORE = {"status": "scheduled", "agent_id": "a1", "slot": {"start": "s1", "end": "e1"},
          "questionnaire": {"q": 1}, "metadata": {}, "client": {"name": "Ada"}}


def _change(action: str, **fields: object) -> dict[str, object]:
    return {"action": action, "from_status": "scheduled", "to_status": "scheduled",
            "actor": {"id": "agent-7", "role": "agent"}, "workflow": {"id": "builtin",
                                                                       "version": 1},
            "correlation_id": "", **fields}


def test_a_change_lists_only_what_it_changed_with_values_before_and_after():
    change = _change("details_updated", metadata={"crm": "42"}, questionnaire={"q": 1})
    after = {**BEFORE, "metadata": {"crm": "42"}}
    entry = history.describe(change, BEFORE, after, at="2026-11-20T08:00:00+00:00")
    assert entry["changes"] == [{"field": "metadata", "before": {}, "after": {"crm": "42"}}]
    assert entry["source"] == "agent" and entry["correlation_id"] is None


def test_values_before_carried_by_the_change_win_and_a_state_without_a_key_means_unchanged():
    change = _change("client_linked", client={"name": "Ada", "id": "c1"},
                     previous_client={"name": "Ada", "tentative": True})
    before = {k: v for k, v in BEFORE.items() if k != "client"}   # a view keeps no client
    after = {**BEFORE, "client": {"name": "Ada", "id": "c1"}}
    entry = history.describe(change, before, after, at="t")
    assert entry["changes"] == [{"field": "client", "before": {"name": "Ada", "tentative": True},
                                 "after": {"name": "Ada", "id": "c1"}}]
    assert history.describe(_change("note_added"), before, after, at="t")["changes"] == []


def test_creation_lists_every_field_it_set_and_a_link_is_the_clients():
    change = {**_change("request", to_status="requested"), "from_status": None}
    after = {**BEFORE, "status": "requested", "agent_id": None}
    entry = history.describe(change, None, after, at="t")
    assert [c["field"] for c in entry["changes"]] == ["status", "slot", "client", "questionnaire"]
    assert all(c["before"] is None for c in entry["changes"])
    linked = history.describe(_change("cancel", link_id="j1",
                                      actor={"id": "c1", "role": "client"}), BEFORE, BEFORE,
                              at="t")
    assert linked["source"] == "client_link" and linked["link_id"] == "j1"
    assert history.source_of({"role": "system"}, None) == "system"
    assert history.source_of({"role": "service"}, None) == "api"


def test_internal_notes_are_for_staff_only():
    note = {"id": "n1", "text": "new", "previous_text": "old"}
    entry = history.describe(_change("note_edited", note=note), BEFORE, BEFORE, at="t")
    assert entry["changes"] == [{"field": "note", "before": {"id": "n1", "text": "old"},
                                 "after": {"id": "n1", "text": "new"}}]
    assert history.for_viewer(entry, {"auditor"})["changes"] == entry["changes"]
    for outsider in ({"widget"}, {"service"}, {"client"}, set()):
        assert history.for_viewer(entry, outsider)["changes"] == []
