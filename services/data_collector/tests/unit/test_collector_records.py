"""Pure parts of the collector: feature flattening, the scalar prediction, partition buffers."""

import json
from datetime import UTC, datetime

import pytest

from modelops_data_collector import records
from modelops_data_collector.buffer import Buffer


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"age": 3, "plan": "a"}, {"age": 3, "plan": "a"}),
        ([1, 2.5], {"f0": 1, "f1": 2.5}),
        ([[1, 2]], {"f0": 1, "f1": 2}),
        ({"data": [[1, 2]]}, {"f0": 1, "f1": 2}),
        ({"dataframe_records": [{"x": 1}]}, {"x": 1}),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}, {"a": 1, "b": 2}),
        ({"seq": 1}, {"input_seq": 1}),
        ([[1, 2], [3, 4]], {}),
        ({"a": [1, 2]}, {}),
    ],
)
def test_one_row_inputs_become_feature_columns(inputs: object, expected: dict[str, object]) -> None:
    assert records.features_of(inputs) == expected


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [(1, 1), ([0.5], 0.5), ({"predictions": [[3]]}, 3), ([1, 2], None), ({"x": 1}, None)],
)
def test_a_single_scalar_output_is_the_prediction(outputs: object, expected: object) -> None:
    assert records.prediction_of(outputs) == expected


def _body(i: int) -> bytes:
    at = datetime(2026, 1, 2, 13, 5, tzinfo=UTC).isoformat()
    return json.dumps(
        {
            "occurred_at": at,
            "request_id": f"r{i}",
            "endpoint_name": "e",
            "model_name": "m",
            "model_version": 2,
            "inputs": {"x": i},
            "outputs": [i],
        }
    ).encode()


def test_buffer_flushes_on_rows_and_ignores_a_redelivered_sequence() -> None:
    buffer = Buffer(max_rows=3, max_bytes=10**6, max_age_s=60)
    row = records.parse(_body(1), 7)
    assert row.partition.prefix == "collected/endpoint=e/model_version=2/date=2026-01-02/hour=13/"
    assert buffer.add(row, "a", 10, 0.0) is None
    assert buffer.add(records.parse(_body(1), 7), "b", 10, 0.0) is None  # redelivered: ack only
    assert buffer.add(records.parse(_body(2), 8), "c", 10, 0.0) is None
    full = buffer.add(records.parse(_body(3), 9), "d", 10, 0.0)
    assert full is not None
    assert (len(full.rows), full.tokens, full.first_seq, full.last_seq) == (3, list("abcd"), 7, 9)
    assert full.key.object_key(7, 9).endswith("hour=13/7-9.parquet")


def test_buffer_flushes_on_age_and_rejects_garbage() -> None:
    buffer = Buffer(max_rows=100, max_bytes=10**6, max_age_s=1.0)
    buffer.add(records.parse(_body(1), 1), "a", 10, 0.0)
    assert buffer.due(0.5) == []
    assert [len(p.rows) for p in buffer.due(1.0)] == [1]
    with pytest.raises(records.BadRecord):
        records.parse(b'{"request_id": "x"}', 1)


def test_table_round_trips_and_dedupes_by_request_id() -> None:
    rows = [records.parse(_body(i % 2), i) for i in range(4)]
    table = records.dedupe(records.read_parquet(records.parquet_bytes(records.to_table(rows))))
    assert sorted(table["request_id"].to_pylist()) == ["r0", "r1"]
    assert table["x"].to_pylist() == [0, 1]
    assert records.column([1, "a", None]).to_pylist() == ["1", "a", None]
