"""The history's record shapes: an event's outcomes stored compactly and read back whole."""

from datetime import UTC, datetime, timedelta

from modelops_notifier.delivery_store import (
    delivery_record,
    event_record,
    explode,
    history_filter,
    newest,
)
from modelops_notifier.domain import Status
from modelops_notifier.handlers import new_delivery
from modelops_notifier.outcomes import add_attempt, finish
from modelops_notifier.ports import Doc

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def finished(sub_id: str, body: str = '{"id": "e1"}', status: Status = Status.DELIVERED) -> Doc:
    doc = new_delivery(sub_id, "webhook", "e1", "model_version.registered.v1", "models/m", body, AT)
    attempt = {"at": AT, "status_code": 204, "latency_ms": 1.5, "response": "", "error": None}
    add_attempt(doc, {**attempt, "outcome": "delivered"})
    finish(doc, status, AT + timedelta(seconds=1), None)
    return doc


def test_an_event_record_reads_back_as_its_deliveries() -> None:
    docs = [finished("sub_a"), finished("sub_b"), finished("alr_c", body="an alert")]
    record = event_record("e1", docs)
    assert record["_id"] == "e1"
    assert record["subscription_ids"] == ["sub_a", "sub_b", "alr_c"]
    assert isinstance(record["outcomes"], str)  # one value for FerretDB to convert
    back = explode(record)
    expected = [
        {k: v for k, v in d.items() if v is not None and k != "next_attempt_at"} for d in docs
    ]
    assert back == expected  # bodies, times and attempts as they were


def test_a_later_series_supersedes_the_first_outcome() -> None:
    first = finished("sub_a", status=Status.DEAD_LETTER)
    replayed = {**finished("sub_a"), "series": 1}
    records = explode(event_record("e1", [first])) + explode(delivery_record(replayed))
    best = newest(records)[first["_id"]]
    assert (best["series"], best["status"]) == (1, "delivered")
    assert delivery_record(replayed)["_id"] == f"{first['_id']}/1"


def test_filters_reach_both_record_shapes() -> None:
    assert history_filter({}) == {}
    assert history_filter({"_id": "msg_1", "event_id": "e1"}) == {
        "$or": [
            {"delivery_id": "msg_1", "event_id": "e1"},
            {"delivery_ids": "msg_1", "event_id": "e1"},
        ]
    }
