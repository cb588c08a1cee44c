"""An in-memory view of subscriptions and alert rules, re-read periodically and on change."""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from modelops_notifier.domain import Filters, Target, now
from modelops_notifier.ports import AlertRules, Doc, Subscriptions

log = structlog.get_logger(__name__)


def active_secrets(doc: Doc, at: datetime) -> list[str]:
    """The secrets that sign now: the current one and any still inside its overlap."""
    return [
        s["secret"]
        for s in doc.get("secrets", [])
        if s.get("expires_at") is None or s["expires_at"] > at
    ]


def to_target(doc: Doc, at: datetime) -> Target:
    return Target(
        id=doc["_id"],
        url=doc["url"],
        filters=Filters(tuple(doc.get("event_types") or ["*"]), tuple(doc.get("subjects") or [])),
        headers=dict(doc.get("headers") or {}),
        secrets=tuple(active_secrets(doc, at)),
        paused=bool(doc.get("paused")),
        disabled=bool(doc.get("disabled")),
        allow_insecure=bool(doc.get("allow_insecure")),
    )


@dataclass(frozen=True)
class Rule:
    """An alert rule as fan-out needs it."""

    id: str
    name: str
    filters: Filters
    channel: Doc
    cooldown_s: float
    paused: bool


def to_rule(doc: Doc) -> Rule:
    return Rule(
        id=doc["_id"],
        name=doc["name"],
        filters=Filters(
            tuple(doc.get("event_types") or ["*"]),
            tuple(doc.get("subjects") or []),
            dict(doc.get("where") or {}),
        ),
        channel=dict(doc["channel"]),
        cooldown_s=float(doc["cooldown_s"]),
        paused=bool(doc.get("paused")),
    )


class Directory:
    """Subscriptions and rules by id; other replicas' changes show up within `refresh_s`."""

    def __init__(self, subs: Subscriptions, rules: AlertRules, refresh_s: float) -> None:
        self._subs, self._rules, self._refresh_s = subs, rules, refresh_s
        self.targets: dict[str, Target] = {}
        self.rules: dict[str, Rule] = {}
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def reload(self) -> None:
        at = now()
        self.targets = {d["_id"]: to_target(d, at) for d in await self._subs.list()}
        self.rules = {d["_id"]: to_rule(d) for d in await self._rules.list()}

    def invalidate(self) -> None:
        """Our own API changed something: reload now."""
        self._changed.set()

    async def changed(self) -> None:
        """Reload at once (used by the API before it answers)."""
        await self.reload()

    def matching(self, event_type: str, entity: str, data: Doc) -> Sequence[Target]:
        """Targets that want this event (paused ones too: they hold it until resumed)."""
        return [
            t
            for t in self.targets.values()
            if not t.disabled and t.filters.match(event_type, entity, data)
        ]

    def matching_rules(self, event_type: str, entity: str, data: Doc) -> Sequence[Rule]:
        return [
            r
            for r in self.rules.values()
            if not r.paused and r.filters.match(event_type, entity, data)
        ]

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh_s):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self.reload()
            except Exception as exc:  # keep serving the last view; Mongo may come back
                log.warning("directory_reload_failed", error=repr(exc))
