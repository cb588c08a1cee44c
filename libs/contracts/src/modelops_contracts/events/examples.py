"""One example per event type: documentation, contract tests and webhook test pings."""

from datetime import UTC, datetime
from uuid import UUID

from modelops_contracts.events import (
    BatchCompleted,
    CollectionWindowClosed,
    DatasetVersionRegistered,
    DeploymentStateChanged,
    DriftChecked,
    DriftDetected,
    EndpointUpdated,
    Event,
    FeatureDrift,
    ImageBuildFailed,
    ImageBuilt,
    Lineage,
    LoggedRequest,
    MessageDeadLettered,
    ModelAliasSet,
    ModelPromoted,
    ModelVersionDeleted,
    ModelVersionProfiled,
    ModelVersionRegistered,
    ModelVersionUpdated,
    PerformanceDegraded,
    PredictionLogged,
    RolloutRolledBack,
    RolloutStepTaken,
    RunCompleted,
    RunFailed,
    RunModelOutput,
    RunStarted,
)
from modelops_contracts.types import DeploymentState, Framework, Severity

_ID = UUID("00000000-0000-4000-8000-000000000001")
_AT = datetime(2026, 1, 1, tzinfo=UTC)
_SHA = "0" * 64
_URI = "s3://registry/blobs/sha256/00/" + _SHA
_COMMON = {"event_id": _ID, "occurred_at": _AT}
_FEATURE = FeatureDrift(feature="age", method="wasserstein", score=0.3, threshold=0.1, drifted=True)

_ALL: list[Event] = [
    ModelVersionRegistered(
        **_COMMON,
        model_name="churn",
        version=3,
        artifact_uri=_URI,
        content_digest=_SHA,
        framework=Framework.ONNX,
        lineage=Lineage(run_id="r1", git_commit="abc123"),
    ),
    ModelVersionUpdated(**_COMMON, model_name="churn", version=3, tags={"area": "retention"}),
    ModelVersionDeleted(**_COMMON, model_name="churn", version=3),
    ModelAliasSet(**_COMMON, model_name="churn", alias="champion", version=3, previous_version=2),
    DatasetVersionRegistered(
        **_COMMON,
        dataset_name="churn-train",
        version=1,
        artifact_uri=_URI,
        content_digest=_SHA,
        format="parquet",
        row_count=1000,
        columns=["age", "plan"],
    ),
    ImageBuilt(
        **_COMMON,
        package_id="p1",
        model_name="churn",
        version=3,
        image="modelops/churn:3",
        image_id="sha256:" + _SHA,
        manifest_digest=_SHA,
        base_image="modelops/python-base:bookworm",
        size_bytes=190_000_000,
        build_seconds=42.0,
    ),
    ImageBuildFailed(**_COMMON, package_id="p1", model_name="churn", version=3, reason="pip"),
    ModelVersionProfiled(
        **_COMMON,
        model_name="churn",
        version=3,
        package_id="p1",
        profile_uri=_URI,
        recommended_cpu=1.0,
        recommended_memory_mb=512,
        latency_target_ms=50.0,
        p50_ms=2.0,
        p99_ms=9.0,
        max_rps=800.0,
    ),
    DeploymentStateChanged(
        **_COMMON,
        deployment_name="blue",
        endpoint_name="churn",
        model_name="churn",
        version=3,
        state=DeploymentState.HEALTHY,
        previous_state=DeploymentState.TRANSITIONING,
        upstreams=["http://127.0.0.1:31001"],
    ),
    EndpointUpdated(**_COMMON, endpoint_name="churn", traffic={"blue": 90, "green": 10}),
    RolloutStepTaken(
        **_COMMON,
        rollout_id="ro1",
        endpoint_name="churn",
        from_deployment="blue",
        to_deployment="green",
        step=1,
        traffic={"blue": 90, "green": 10},
    ),
    RolloutRolledBack(
        **_COMMON,
        rollout_id="ro1",
        endpoint_name="churn",
        to_deployment="blue",
        reason="p99 latency above its guard",
        metric="p99_ms",
        observed=120.0,
        threshold=50.0,
    ),
    PredictionLogged(
        **_COMMON,
        request_id="req1",
        endpoint_name="churn",
        deployment_name="blue",
        model_name="churn",
        model_version=3,
        inputs={"age": [41]},
        outputs=[0],
        latency_ms=2.5,
        more=[
            LoggedRequest(
                request_id="req2", occurred_at=_AT, inputs={"age": [7]}, outputs=[1], latency_ms=2.1
            )
        ],
    ),
    CollectionWindowClosed(
        **_COMMON,
        endpoint_name="churn",
        model_name="churn",
        model_version=3,
        window_start=_AT,
        window_end=_AT,
        row_count=500,
        data_uri="s3://data-collector/churn/3/2026-01-01/00/",
    ),
    DriftChecked(
        **_COMMON,
        monitor_id="m1",
        run_id="mr1",
        model_name="churn",
        dataset_drift=True,
        drift_share=0.6,
        drifted_features=["age"],
    ),
    DriftDetected(
        **_COMMON,
        monitor_id="m1",
        run_id="mr1",
        model_name="churn",
        drift_share=0.6,
        features=[_FEATURE],
        severity=Severity.WARNING,
    ),
    PerformanceDegraded(
        **_COMMON,
        monitor_id="m1",
        run_id="mr1",
        model_name="churn",
        metric="accuracy",
        value=0.71,
        baseline=0.9,
        threshold=0.05,
    ),
    RunStarted(**_COMMON, run_id="run1", job_name="retrain-churn", trigger="drift.detected"),
    RunCompleted(
        **_COMMON,
        run_id="run1",
        job_name="retrain-churn",
        metrics={"accuracy": 0.91},
        outputs=[
            RunModelOutput(model_name="churn", artifact_uri=_URI, framework=Framework.SKLEARN)
        ],
    ),
    RunFailed(**_COMMON, run_id="run1", job_name="retrain-churn", reason="exit code 1"),
    ModelPromoted(
        **_COMMON,
        model_name="churn",
        alias="champion",
        version=4,
        previous_version=3,
        decision_id="d1",
    ),
    BatchCompleted(
        **_COMMON,
        run_id="run2",
        model_name="churn",
        version=4,
        input_uri=_URI,
        output_uri=_URI,
        rows=10_000,
    ),
    MessageDeadLettered(
        **_COMMON,
        service="registry",
        consumer="registry__run_completed_v1",
        original_subject="modelops.run.completed.v1",
        reason="not a valid RunCompleted",
        deliveries=1,
        payload="{}",
    ),
]

EXAMPLES: dict[type[Event], Event] = {type(e): e for e in _ALL}
"""An example instance of every event class, keyed by class."""
