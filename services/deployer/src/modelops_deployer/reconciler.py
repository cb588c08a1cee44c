"""The controller: desired state in Mongo, actual state observed, differences acted on.

Per deployment and tick: drop dead replicas (a restart), replace replicas that never got
ready, start replicas up to the desired count, switch traffic to the new spec once its
replicas are ready, drain and stop the old ones, and publish every change of state or
upstreams as DeploymentStateChanged (outbox, generation + 1).
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

from modelops_deployer.facts import transition
from modelops_deployer.repository import Repositories
from modelops_deployer.settings import DeployerSettings
from modelops_deployer.targets import Replica, Target
from modelops_servicekit.errors import Conflict

log = structlog.get_logger(__name__)
Doc = dict[str, Any]


class Reconciler:
    """One loop over every deployment; woken early by `kick()` after an API change."""

    def __init__(
        self, repos: Repositories, targets: dict[str, Target], settings: DeployerSettings,
        kick_relay: Callable[[], None], extra: Callable[[], Awaitable[None]] | None = None,
    ) -> None:  # fmt: skip
        self.repos, self.targets, self.s = repos, targets, settings
        self._kick_relay, self._extra = kick_relay, extra
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=1.0)

    def kick(self) -> None:
        self._wake.set()

    async def probe(self, replica: Replica) -> bool:
        try:
            resp = await self._http.get(replica["url"] + "/v2/health/ready")
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def tick(self) -> None:
        for doc in await self.repos.deployments.find({"reconciled": {"$ne": False}}):
            try:
                await self.reconcile(doc)
            except Conflict:
                continue  # changed under us: next tick sees the new desired state
        if self._extra is not None:
            await self._extra()

    async def reconcile(self, doc: Doc) -> None:
        target = self.targets.get(doc["target"])
        if doc.get("deleted"):
            await self._stop_all(doc, target)
            return
        if target is None or (
            doc.get("state") == "Failed" and doc.get("failed_spec") == doc["spec_gen"]
        ):
            return
        cpus, memory = target.capacity()
        desired = doc["desired"]
        if doc["cpu"] * desired > cpus or doc["memory_mb"] * desired > memory:
            reason = (f"needs {doc['cpu'] * desired} CPU / {doc['memory_mb'] * desired} MB, "
                      f"the host has {cpus} / {memory} MB")  # fmt: skip
            changes, events = transition(doc, "Unschedulable", [], reason)
            if changes:
                await self._save(doc, changes, events)
            return
        await self._converge(doc, target, desired)

    async def _converge(self, doc: Doc, target: Target, desired: int) -> None:
        now = time.time()
        kept, restarts, tail = await self._observe(doc, target, now)
        restarts = [t for t in restarts if now - t < self.s.restart_window_s]
        if len(restarts) > self.s.max_restarts:
            await self._fail(doc, target, kept, f"restart loop: {len(restarts)} restarts", tail)
            return
        spec = doc["spec_gen"]
        current = [r for r in kept if r["spec_gen"] == spec and not r.get("draining_until")]
        old = [r for r in kept if r["spec_gen"] != spec and not r.get("draining_until")]
        started: list[Replica] = []
        try:
            for _ in range(desired - len(current)):
                replica = await target.start(doc)
                started.append({**replica, "spec_gen": spec, "started_at": now, "ready": False})
        except Exception as exc:
            for replica in started:
                await target.stop(replica, 0)
            await self._fail(doc, target, kept, f"cannot start a replica: {exc}", tail)
            return
        current += started
        kept += started
        ready = [r for r in current if r["ready"]]
        for extra in ready[desired:] if len(current) > desired else []:
            extra["draining_until"] = now + self.s.drain_s  # scaled down
        ready = ready[:desired]
        if old and len(ready) >= desired:
            for replica in old:  # switch: traffic moves to the new spec, the old drain
                replica["draining_until"] = now + self.s.drain_s
            old = []
        upstreams = [r["url"] for r in ready] or [r["url"] for r in old if r["ready"]]
        if len(ready) >= desired and not old:
            state = "Healthy"
        elif doc.get("state") in ("Healthy", "Unhealthy") and not old:
            state = "Unhealthy"
        else:
            state = "Transitioning"
        changes, events = transition(doc, state, upstreams, "")
        changes.update({"replicas": kept, "restarts": restarts})
        if tail:
            changes["log_tail"] = tail
        try:
            await self._save(doc, changes, events)
        except Conflict:
            for replica in started:
                await target.stop(replica, 0)
            raise

    async def _observe(
        self, doc: Doc, target: Target, now: float
    ) -> tuple[list[Replica], list[float], str]:
        kept, restarts, tail = [], list(doc.get("restarts", [])), ""
        for replica in doc.get("replicas", []):
            replica = dict(replica)
            if replica.get("draining_until"):
                if now >= replica["draining_until"]:
                    await target.stop(replica, self.s.drain_s)
                else:
                    kept.append(replica)
                continue
            if not await target.alive(replica):
                tail = await target.log_tail(replica)
                restarts.append(now)
                log.warning("replica_died", deployment=doc["_id"], replica=replica["id"])
                continue
            replica["ready"] = await self.probe(replica)
            if not replica["ready"] and now - replica["started_at"] > self.s.startup_timeout_s:
                tail = await target.log_tail(replica)
                await target.stop(replica, 0)
                restarts.append(now)
                continue
            kept.append(replica)
        return kept, restarts, tail

    async def _fail(
        self, doc: Doc, target: Target, replicas: list[Replica], reason: str, tail: str
    ) -> None:
        for replica in replicas:
            await target.stop(replica, 0)
        changes, events = transition(doc, "Failed", [], reason)
        changes.update({"replicas": [], "failed_spec": doc["spec_gen"], "log_tail": tail})
        await self._save(doc, changes, events)
        log.warning("deployment_failed", deployment=doc["_id"], reason=reason)

    async def _stop_all(self, doc: Doc, target: Target | None) -> None:
        if not doc.get("replicas"):
            return
        for replica in doc["replicas"]:
            if target is not None:
                await target.stop(replica, self.s.drain_s)
        await self._save(doc, {"replicas": [], "reconciled": False}, [])

    async def _save(self, doc: Doc, changes: Doc, events: list[Any]) -> None:
        await self.repos.deployments.update(doc, changes, events)
        if events:
            self._kick_relay()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.s.reconcile_interval_s)
            self._wake.clear()
            try:
                await self.tick()
            except Exception as exc:  # Mongo away or a bug in one tick: log, next tick retries
                log.exception("reconcile_failed", error=repr(exc))

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()
