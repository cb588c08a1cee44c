"""Pure parts of the deployer: traffic rules, model refs, autoscaling, guards, manifests."""

from pathlib import Path

import pytest
import yaml

from modelops_client.cli.apply import deployment_spec
from modelops_deployer import domain, kubernetes, rollout
from modelops_servicekit.errors import Invalid

DEPLOYMENT = {"_id": "blue", "endpoint": "ep", "image": "modelops/tiny:1", "cpu": 0.5,
              "memory_mb": 256, "replicas_min": 1, "replicas_max": 3, "max_concurrency": 4,
              "request_timeout_s": 30.0}  # fmt: skip


def test_traffic_sums_to_100_and_mirror_is_at_most_half() -> None:
    domain.check_traffic({"a": 90, "b": 10}, {"a", "b"})
    with pytest.raises(Invalid):
        domain.check_traffic({"a": 90}, {"a"})
    with pytest.raises(Invalid):
        domain.check_traffic({"c": 100}, {"a"})
    domain.check_mirror({"b": 50}, {"a": 100}, {"a", "b"})
    with pytest.raises(Invalid):
        domain.check_mirror({"b": 60}, {"a": 100}, {"a", "b"})


def test_model_refs_and_key_hashes() -> None:
    assert domain.parse_model_ref("churn@champion") == ("churn", "@champion")
    assert domain.parse_model_ref("churn:3") == ("churn", "3")
    assert domain.parse_model_ref("churn") == ("churn", "latest")
    key = domain.new_key()
    assert len(domain.hash_key(key)) == 64
    assert domain.hash_key(key) != key


def test_autoscale_follows_concurrency_between_min_and_max() -> None:
    assert domain.desired_replicas(1, 1, 4, load=10, per_replica=4) == 4
    assert domain.desired_replicas(4, 1, 4, load=0, per_replica=4) == 3  # one step down
    assert domain.desired_replicas(1, 2, 2, load=100, per_replica=4) == 2


def test_guards_breach_on_error_rate_and_p99() -> None:
    buckets = [1, 2, 5, 10, 20, 50, 100, 200, 500]
    before = {"requests": 0, "errors": 0, "bucket_counts": [0] * 10, "buckets_ms": buckets}
    slow = {**before, "requests": 50, "bucket_counts": [0] * 8 + [50, 0]}
    found = rollout.breach({"max_p99_ms": 100, "min_requests": 10}, domain.window(before, slow))
    assert found is not None
    assert found[0] == "p99_ms"
    failing = {**before, "requests": 50, "errors": 5, "bucket_counts": [50] + [0] * 9}
    guards = {"max_error_rate": 0.01, "min_requests": 10}
    assert rollout.breach(guards, domain.window(before, failing))[0] == "error_rate"  # type: ignore[index]
    assert rollout.breach(guards, domain.window(failing, failing)) is None  # nothing new


def test_kubernetes_manifests_validate_against_the_openapi_models() -> None:
    objects = kubernetes.manifests(DEPLOYMENT, "modelops")
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for manifest in objects:
        assert kubernetes.validate(manifest) == []
    broken = {**objects[0], "spec": {**objects[0]["spec"], "replicaz": 2}}
    assert kubernetes.validate(broken)
    missing = {**objects[0], "spec": {"replicas": 1}}  # selector and template are required
    assert kubernetes.validate(missing)


def test_the_example_manifests_and_apply_yaml_are_valid() -> None:
    root = Path(__file__).resolve().parents[4] / "deploy" / "kubernetes"
    for manifest in yaml.safe_load_all((root / "churn-blue.yaml").read_text()):
        assert kubernetes.validate(manifest) == []
    docs = list(yaml.safe_load_all((root / "endpoint.yaml").read_text()))
    spec = deployment_spec(docs[1])
    assert spec == {"model": "churn@champion", "target": "docker", "replicas_min": 1,
                    "replicas_max": 3, "max_concurrency": 4, "request_timeout_s": 30.0,
                    "max_queue_wait_s": 0.5, "cpu": 0.5, "memory_mb": 512,
                    "data_collection": True, "sample_rate": 0.1}  # fmt: skip
