"""A notifier process killed (SIGKILL) mid-retry resumes after restart, with the same ids."""

import asyncio
import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from modelops_client.cli import app as cli
from modelops_client.config import ClientSettings
from modelops_client.notifier import NotifierClient
from modelops_servicekit.bus import NatsEventPublisher

if TYPE_CHECKING:
    from conftest import Kit, Receiver

pytestmark = pytest.mark.integration


async def test_a_notifier_killed_mid_retry_resumes_without_new_webhook_ids(
    kit: "Kit", fleet: object, receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    fleet.extra_env.update(  # type: ignore[attr-defined]  # testkit's ServiceFleet
        {
            "MODELOPS_DELIVERY__ALLOW_PRIVATE": json.dumps(["127.0.0.1/32"]),
            "MODELOPS_DELIVERY__RETRY_SCHEDULE_S": json.dumps([0.5] * 30),
            "MODELOPS_DELIVERY__JITTER": "0",
            "MODELOPS_DELIVERY__LEASE_S": "2",
            "MODELOPS_DELIVERY__TIMEOUT_S": "1",
            "MODELOPS_DELIVERY__POLL_INTERVAL_S": "0.2",
        }
    )
    (notifier,) = fleet.start("notifier")  # type: ignore[attr-defined]
    sdk = NotifierClient(ClientSettings(notifier_url=notifier.url))  # the SDK, as users do
    sub = await asyncio.to_thread(sdk.create_subscription, receiver.url(), allow_insecure=True)
    receiver.secrets["/hook"] = [sub["secret"]]
    receiver.script.extend([(503, {})] * 1000)
    events = [kit.registered("churn", v) for v in range(1, 5)]
    for event in events:
        await publisher.publish(event)
    await receiver.wait_for(lambda: len({r.webhook_id for r in receiver.received}) == 4)
    await receiver.wait_for(lambda: len(receiver.received) >= 8)  # retries under way
    ids_before = {r.webhook_id for r in receiver.received}

    notifier.kill()
    receiver.script.clear()  # the target recovers while the notifier is down
    fleet.start("notifier")  # type: ignore[attr-defined]

    await receiver.wait_for(lambda: len(receiver.ok()) >= 4, timeout=30)
    ok_ids = [r.webhook_id for r in receiver.ok()]
    assert sorted(ok_ids) == sorted(ids_before)  # no new webhook-ids, each delivered once
    assert {r.cloudevent["id"] for r in receiver.ok()} == {str(e.event_id) for e in events}
    assert all(r.verified for r in receiver.received)

    env = {"MODELOPS_NOTIFIER_URL": fleet.running["notifier"].url}  # type: ignore[attr-defined]
    listed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["webhook", "deliveries", "--output", "json"], env=env
    )
    assert listed.exit_code == 0, listed.output
    assert {d["id"] for d in json.loads(listed.output)} == ids_before
    assert {d["status"] for d in json.loads(listed.output)} == {"delivered"}
    sdk.close()
