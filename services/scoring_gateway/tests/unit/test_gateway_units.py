"""Pure parts of the gateway: routing table, admission, stats, keys, routes, prediction payloads."""

import asyncio
import hashlib
import time
from collections import Counter

import orjson
import pytest

from modelops_contracts.events import DeploymentStateChanged, EndpointUpdated, PredictionLogged
from modelops_scoring_gateway import mirror
from modelops_scoring_gateway.admission import Saturated, Slots
from modelops_scoring_gateway.keys import matches, presented_key
from modelops_scoring_gateway.proxy import parse_route
from modelops_scoring_gateway.routing import RoutingTable
from modelops_scoring_gateway.sampling import to_message
from modelops_scoring_gateway.stats import DeploymentStats, quantile, two_proportion_z


def state(name: str, gen: int, upstreams: list[str] | None = None) -> DeploymentStateChanged:
    return DeploymentStateChanged(
        deployment_name=name, endpoint_name="ep", model_name="m", version=1, state="Healthy",
        upstreams=["http://127.0.0.1:1"] if upstreams is None else upstreams, generation=gen,
    )  # fmt: skip


def test_older_generations_are_dropped_and_the_split_is_weighted() -> None:
    table = RoutingTable()
    table.apply_deployment(state("a", 2))
    table.apply_deployment(state("b", 1))
    assert table.apply_deployment(state("a", 1, [])) is None  # stale: ignored
    table.apply_endpoint(
        EndpointUpdated(endpoint_name="ep", traffic={"a": 80, "b": 20}, generation=3)
    )
    assert table.apply_endpoint(EndpointUpdated(endpoint_name="ep", generation=2)) is None
    endpoint = table.endpoints["ep"]
    picks = Counter(t.name for t in (table.pick(endpoint, i / 1000) for i in range(1000)) if t)
    assert picks == {"a": 800, "b": 200}
    table.apply_deployment(state("b", 2, []))  # no healthy replica: no traffic
    assert {table.pick(endpoint, r).name for r in (0.1, 0.9)} == {"a"}  # type: ignore[union-attr]


def test_a_deleted_endpoint_stays_deleted_for_older_facts() -> None:
    table = RoutingTable()
    table.apply_endpoint(EndpointUpdated(endpoint_name="ep", generation=5, deleted=True))
    table.apply_endpoint(EndpointUpdated(endpoint_name="ep", generation=4))
    assert "ep" not in table.endpoints


async def test_slots_queue_is_bounded_and_waits_at_most_the_queue_wait() -> None:
    slots = Slots(capacity=1, max_queue=1, wait_s=0.1)
    await slots.acquire()
    waiter = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    with pytest.raises(Saturated):  # queue full: refused at once
        await slots.acquire()
    started = time.perf_counter()
    with pytest.raises(Saturated):
        await waiter
    assert time.perf_counter() - started < 1.0  # bounded by the wait, never a hang (loose: CI load)
    handed = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # the slot goes to the waiter, not back to the pool
    await handed
    assert slots.in_flight == 1
    slots.release()
    assert slots.in_flight == 0


def test_keys_compare_hashes_and_accept_both_headers() -> None:
    hashes = [hashlib.sha256(b"k1").digest(), hashlib.sha256(b"k2").digest()]
    assert matches(b"k2", hashes)
    assert not matches(b"k3", hashes)
    assert not matches(None, hashes)
    assert presented_key([(b"authorization", b"Bearer k1")]) == b"k1"
    assert presented_key([(b"api-key", b"k2")]) == b"k2"


def test_routes() -> None:
    score = parse_route("/endpoints/ep/score")
    assert score is not None
    assert (score.endpoint, score.kind) == ("ep", "score")
    pinned = parse_route("/v2/models/ep/versions/blue/infer")
    assert pinned is not None
    assert (pinned.kind, pinned.pinned) == ("infer", b"blue")
    assert parse_route("/endpoints/ep/other") is None


def test_stats_quantiles_and_z_test() -> None:
    stats = DeploymentStats("ep")
    for ms in [1.5] * 98 + [300.0, 300.0]:
        stats.observe(200, ms)
    assert quantile(stats.buckets, 0.5) is not None
    assert quantile(stats.buckets, 0.5) <= 2  # type: ignore[operator]
    assert quantile(stats.buckets, 0.995) >= 200  # type: ignore[operator]
    same = two_proportion_z(10, 1000, 10, 1000)
    different = two_proportion_z(10, 1000, 60, 1000)
    assert same["p_value"] == 1.0
    assert different["p_value"] is not None
    assert different["p_value"] < 0.001


def test_prediction_payload_is_a_valid_event() -> None:
    record = (
        "rid", "ep", "blue", "m", "3", b'{"data": [[1]]}', b"[[2]]", 1.5, 200, time.time(), False
    )  # fmt: skip
    _, payload = to_message(record)
    event = PredictionLogged.model_validate_json(payload)
    assert (event.model_version, event.inputs, event.outputs) == (3, {"data": [[1]]}, [[2]])


@pytest.mark.parametrize(
    ("live", "shadow", "agreed"),
    [
        # OIP: the first output (a classifier's label) decides, probabilities may differ
        (
            {"outputs": [{"name": "label", "data": [1, 0]}, {"name": "p", "data": [0.9, 0.2]}]},
            {"outputs": [{"name": "label", "data": [1, 0]}, {"name": "p", "data": [0.7, 0.4]}]},
            True,
        ),
        (
            {"outputs": [{"name": "label", "data": [1, 0]}]},
            {"outputs": [{"name": "label", "data": [1, 1]}]},
            False,
        ),
        # Azure/MLflow bodies with several named outputs: the first one
        (
            {"predictions": {"label": [1], "probabilities": [{"0": 0.1, "1": 0.9}]}},
            {"predictions": {"label": [1], "probabilities": [{"0": 0.4, "1": 0.6}]}},
            True,
        ),
        ({"label": [0], "probabilities": [{"0": 0.9}]}, {"label": [1], "probabilities": []}, False),
        # numbers within the relative tolerance, booleans exactly
        ({"predictions": [100.0, 2.0]}, {"predictions": [100.05, 2.0001]}, True),
        ({"predictions": [100.0]}, {"predictions": [101.0]}, False),
        ([True, False], [1, 0], False),
        ([[1, 2]], [[1, 2, 3]], False),
    ],
)
def test_mirror_compares_the_prediction_not_every_output(
    live: object, shadow: object, agreed: bool
) -> None:
    a, b = mirror.prediction(orjson.dumps(live)), mirror.prediction(orjson.dumps(shadow))
    assert mirror.agree(a, b, 1e-3) is agreed


def test_mirror_prediction_of_a_body_that_is_not_json_is_the_body() -> None:
    assert mirror.prediction(b"not json") == b"not json"
