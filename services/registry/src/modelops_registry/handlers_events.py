"""Use cases driven by events: deployments in use, runs to register, the audit log."""

import tempfile
from pathlib import Path, PurePosixPath

import structlog

from modelops_contracts.api.registry import FileEntry, RegisterModelVersion
from modelops_contracts.events import (
    CloudEvent,
    DeploymentStateChanged,
    Event,
    RunCompleted,
    RunModelOutput,
)
from modelops_registry.app_deps import Deps
from modelops_registry.handlers import register_model_version
from modelops_registry.ports import ArtifactStore, Document
from modelops_servicekit.errors import Invalid, NotFound

log = structlog.get_logger(__name__)


def audit_entry(event: Event, source: str) -> Document:
    """An audit line: the event as a CloudEvent, with who did it and to which model."""
    cloud = CloudEvent.wrap(event, source).model_dump(mode="json")
    data = cloud["data"]
    actor = next(
        (data[k] for k in ("created_by", "updated_by", "deleted_by", "set_by") if data.get(k)),
        source.rsplit("/", 1)[-1],
    )
    entry: Document = {
        "_id": str(event.event_id),
        "event_id": str(event.event_id),
        "action": event.event_type(),
        "actor": actor,
        "at": event.occurred_at,
        "entity": event.entity(),
        "event": cloud,
    }
    for field in ("model_name", "dataset_name"):
        if data.get(field):
            entry[field] = data[field]
    return entry


async def record_audit(deps: Deps, event: Event, source: str) -> None:
    """Append the event to the audit log (idempotent on its id)."""
    await deps.audit.record(audit_entry(event, source))


async def on_deployment_state_changed(deps: Deps, event: DeploymentStateChanged) -> None:
    """Remember which deployment holds which version; newer facts win."""
    key = f"{event.endpoint_name}/{event.deployment_name}"
    fields = {
        "endpoint_name": event.endpoint_name,
        "deployment_name": event.deployment_name,
        "model_name": event.model_name,
        "version": event.version,
        "state": event.state.value,
        "event_id": str(event.event_id),
    }
    applied = await deps.deployments.apply(key, fields, event.generation, event.occurred_at)
    log.info("deployment_state_applied", deployment=key, state=event.state, applied=applied)
    await record_audit(deps, event, "/modelops/deployer")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


async def _output_objects(source: ArtifactStore, key: str) -> dict[str, str]:
    """The objects of a run output: one object (by its name) or every object under a prefix."""
    if not key.endswith("/") and await source.stat(key) is not None:
        return {PurePosixPath(key).name: key}
    prefix = key.rstrip("/") + "/"
    found = {k.removeprefix(prefix): k for k in await source.list(prefix)}
    if not found:
        raise Invalid(f"run output s3://{source.bucket}/{key} holds no objects")
    return found


async def _copy_objects(deps: Deps, source: ArtifactStore, key: str) -> list[FileEntry]:
    """Copy run outputs (from our bucket or another of the same store) into our blobs."""
    files = []
    with tempfile.TemporaryDirectory(prefix="registry-run-") as tmp:
        for path, object_key in sorted((await _output_objects(source, key)).items()):
            local = Path(tmp) / "object"
            await source.get_file(object_key, local)
            stored = await deps.store.put_file(local)
            files.append(FileEntry(path=path, sha256=stored.sha256, size=stored.size))
            local.unlink()
    return files


async def _source(deps: Deps, bucket: str) -> ArtifactStore | None:
    """Where a run output's bytes can be read: our bucket, another bucket of the same store
    (the jobs service's), or None for a location outside it (registered as a reference)."""
    if bucket == deps.bucket:
        return deps.store
    if deps.buckets is None:
        return None
    other = deps.buckets(bucket)
    return other if await other.ping() else None


async def _register_output(deps: Deps, event: RunCompleted, output: RunModelOutput) -> None:
    bucket, key = _split(output.artifact_uri)
    source = await _source(deps, bucket)
    own = source is not None
    files = await _copy_objects(deps, source, key) if source is not None else []
    lineage = event.lineage.model_copy(update={"run_id": event.run_id})
    body = RegisterModelVersion(
        files=files,
        framework=output.framework,
        tags=dict(output.tags),
        lineage=lineage,
        trusted=True,  # produced by the platform's own run, which asked to register it
        source_uri=None if own else output.artifact_uri,
        description=f"registered from run {event.run_id} of job {event.job_name}",
    )
    idempotency_key = f"run:{event.run_id}:{output.model_name}"
    doc, created = await register_model_version(
        deps, output.model_name, body, f"run:{event.run_id}", idempotency_key
    )
    log.info("run_output_registered", run_id=event.run_id, version=doc["version"], new=created)


async def on_run_completed(deps: Deps, event: RunCompleted) -> None:
    """Register each output that asks for it, with the run's lineage (idempotent per run)."""
    for output in event.outputs:
        if not output.auto_register:
            continue
        try:
            await _register_output(deps, event, output)
        except NotFound as exc:
            raise Invalid(f"run output {output.artifact_uri} cannot be read: {exc}") from exc
