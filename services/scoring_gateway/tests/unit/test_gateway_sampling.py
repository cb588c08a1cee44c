"""Sampled predictions leave batched: one PredictionLogged per deployment, split by size."""

from modelops_contracts.events import PredictionLogged
from modelops_scoring_gateway.sampling import PredictionLog, Record, to_messages
from modelops_scoring_gateway.stats import Stats


def _record(
    i: int, deployment: str = "blue", body: bytes = b'{"data": [[1]]}', checked: bool = True
) -> Record:
    return (f"r{i}", "ep", deployment, "m", "3", body, b"[[2]]", 1.5, 200, 1_700_000_000.0 + i,
            checked)  # fmt: skip


def _events(records: list[Record], max_bytes: int = 512 * 1024) -> list[PredictionLogged]:
    return [PredictionLogged.model_validate_json(p) for _, p in to_messages(records, max_bytes)]


def test_one_message_per_deployment_carries_every_request() -> None:
    records = [_record(i, "blue" if i % 3 else "green") for i in range(10)]
    events = _events(records)
    assert [e.deployment_name for e in events] == ["green", "blue"]
    ids = {e.deployment_name: [e.request_id, *(r[0] for r in e.rows)] for e in events}
    assert ids == {"green": ["r0", "r3", "r6", "r9"], "blue": ["r1", "r2", "r4", "r5", "r7", "r8"]}
    blue = events[1]
    rid, at, inputs, outputs, latency, status = blue.rows[0]
    assert (blue.model_version, inputs, outputs) == (3, {"data": [[1]]}, [[2]])
    assert (rid, at, latency, status) == ("r2", 1_700_000_002.0, 1.5, 200)
    assert len({e.event_id for e in events}) == 2


def test_bodies_are_embedded_verbatim_only_when_the_model_server_checked_them() -> None:
    checked = _record(1, body=b'{"data": [[1.50, 2]]}')
    _, payload = to_messages([checked])[0]
    assert b'"inputs":{"data": [[1.50, 2]]}' in payload  # not re-encoded
    unchecked = [_record(2, body=b"a,b\n1,2", checked=False), _record(3, checked=False)]
    (event,) = _events(unchecked)
    assert (event.inputs, event.rows[0][2]) == ("a,b\n1,2", {"data": [[1]]})


def test_messages_are_split_by_size_and_a_lone_request_has_no_more() -> None:
    big = b'{"data": "' + b"x" * 1000 + b'"}'
    events = _events([_record(i, body=big) for i in range(10)], max_bytes=3000)
    assert [1 + len(e.rows) for e in events] == [2, 2, 2, 2, 2]
    (lone,) = _events([_record(1)])
    assert lone.rows == []


async def test_the_log_counts_published_requests_not_messages() -> None:
    sent: list[list[tuple[str, bytes]]] = []

    async def send(messages: list[tuple[str, bytes]]) -> None:
        sent.append(messages)

    stats = Stats()
    log = PredictionLog(send, stats, capacity=100, batch=50, flush_s=1.0)
    for i in range(120):
        key = ("ep", "blue" if i % 2 else "green", "m", "3")
        log.offer(key, f"r{i}", 1_700_000_000.0 + i, b'{"data": [[1]]}', b"[[2]]", 1.5, 200, True)
    assert log.pending == 100
    await log.flush()
    assert [len(batch) for batch in sent] == [2]  # one round, one message per deployment
    assert (stats.predictions_published, stats.predictions_dropped) == (100, 20)
    await log.flush()  # nothing left: nothing sent
    assert len(sent) == 1
