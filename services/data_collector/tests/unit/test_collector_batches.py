"""A message carrying a batch of requests: decoded to rows, acked once all its rows are stored."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelops_data_collector import records
from modelops_data_collector.buffer import Buffer


def _request(i: int, at: str | float) -> dict[str, Any]:
    return {"request_id": f"r{i}", "occurred_at": at, "inputs": {"x": i}, "outputs": [i],
            "latency_ms": 1.0}  # fmt: skip


def _message(*requests: dict[str, Any]) -> bytes:
    first, *more = requests
    shared = {"endpoint_name": "e", "deployment_name": "blue", "model_name": "m",
              "model_version": 2}  # fmt: skip
    return json.dumps({**shared, **first, "more": more}).encode()


def test_a_batch_decodes_to_one_row_per_request_sharing_the_message_fields() -> None:
    body = _message(
        _request(1, "2026-01-02T13:59:59.5+00:00"),
        _request(2, "2026-01-02T16:00:01+02:00"),  # 14:00:01 UTC: the next hour
    )
    rows = records.decode(body, 7)
    assert [(r.request_id, r.seq, r.deployment_name) for r in rows] == [
        ("r1", 7, "blue"),
        ("r2", 7, "blue"),
    ]
    assert [r.partition.hour for r in rows] == ["13", "14"]
    table = records.to_table(rows)
    assert table["x"].to_pylist() == [1, 2]
    assert table["inputs_json"].to_pylist() == ['{"x":1}', '{"x":2}']
    assert [t.isoformat() for t in table["ts"].to_pylist()] == [
        "2026-01-02T13:59:59.500000+00:00",
        "2026-01-02T14:00:01+00:00",
    ]


def test_compact_rows_decode_like_objects() -> None:
    at = datetime(2026, 1, 2, 14, 0, 1, tzinfo=UTC)
    body = json.loads(_message(_request(1, at.isoformat()), _request(2, at.timestamp())))
    body["rows"] = [["r3", at.timestamp(), {"x": 3}, [3], 2.0, 500]]
    rows = records.decode(json.dumps(body).encode(), 4)
    assert [(r.request_id, r.status_code, r.inputs) for r in rows] == [
        ("r1", 200, {"x": 1}), ("r2", 200, {"x": 2}), ("r3", 500, {"x": 3})]  # fmt: skip
    assert rows[2].ts_us == rows[0].ts_us
    body["rows"] = [["r4", at.timestamp(), {}]]
    with pytest.raises(records.BadRecord):
        records.decode(json.dumps(body).encode(), 5)


def test_unix_seconds_in_more_read_as_utc() -> None:
    at = datetime(2026, 1, 2, 14, 0, 1, 250000, tzinfo=UTC)
    body = _message(_request(1, at.isoformat()), _request(2, at.timestamp()))
    first, second = records.decode(body, 3)
    assert first.ts_us == second.ts_us
    assert first.partition == second.partition


@pytest.mark.parametrize(
    "body",
    [
        b'{"request_id": "x"}',
        _message(_request(1, "2026-01-02T13:00:00+00:00"), {"request_id": "no time"}),
        b'{"endpoint_name":"e","model_name":"m","model_version":1,"request_id":"r",'
        b'"occurred_at":"2026-01-02T13:00:00+00:00","more":"r2"}',
        b"[1, 2]",
    ],
)
def test_a_malformed_batch_is_a_bad_record(body: bytes) -> None:
    with pytest.raises(records.BadRecord):
        records.decode(body, 1)


def test_a_message_across_two_partitions_is_acked_once_both_are_stored() -> None:
    buffer = Buffer(max_rows=100, max_bytes=10**6, max_age_s=1.0)
    body = _message(_request(1, "2026-01-02T13:59:59+00:00"), _request(2, "2026-01-02T14:00:00Z"))
    assert buffer.add_message(records.decode(body, 5), 5, "m5", len(body), 0.0) == []
    assert buffer.add_message(records.decode(body, 5), 5, "m5-again", len(body), 0.5) == []
    thirteen, fourteen = buffer.due(1.0)
    assert (len(thirteen.rows), len(fourteen.rows)) == (1, 1)  # the redelivery added no row
    assert buffer.stored(thirteen) == []
    assert buffer.stored(fourteen) == ["m5", "m5-again"]
    assert buffer.unsettled == {}


def test_a_failed_partition_naks_its_messages_once_and_they_are_never_acked() -> None:
    buffer = Buffer(max_rows=100, max_bytes=10**6, max_age_s=1.0)
    body = _message(_request(1, "2026-01-02T13:59:59+00:00"), _request(2, "2026-01-02T14:00:00Z"))
    other = _message(_request(3, "2026-01-02T14:10:00Z"))
    buffer.add_message(records.decode(body, 5), 5, "m5", len(body), 0.0)
    buffer.add_message(records.decode(other, 6), 6, "m6", len(other), 0.0)
    thirteen, fourteen = buffer.due(1.0)
    assert buffer.failed(thirteen) == ["m5"]
    assert buffer.stored(fourteen) == ["m6"]  # m5 was nak'ed: it comes again, whole
    assert buffer.add_message(records.decode(body, 5), 5, "m5-again", len(body), 2.0) == []
    assert len(buffer.parts) == 2


def test_a_partition_flushes_when_a_batch_fills_it() -> None:
    buffer = Buffer(max_rows=3, max_bytes=10**6, max_age_s=60)
    body = _message(*(_request(i, "2026-01-02T13:00:00+00:00") for i in range(4)))
    (full,) = buffer.add_message(records.decode(body, 9), 9, "m9", len(body), 0.0)
    assert (len(full.rows), full.tokens, full.first_seq, full.last_seq) == (4, ["m9"], 9, 9)
