"""Webhook delivery on the real stack: signed CloudEvents, retries, 410, Retry-After, guards."""

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from modelops_contracts.events import DeploymentStateChanged
from modelops_contracts.types import DeploymentState
from modelops_servicekit.bus import NatsEventPublisher

if TYPE_CHECKING:
    from conftest import Kit, Receiver

pytestmark = pytest.mark.integration


async def subscribe(
    http: httpx.AsyncClient, receiver: "Receiver", path: str = "/hook", **body: Any
) -> dict[str, Any]:
    resp = await http.post(
        "/v1/subscriptions", json={"url": receiver.url(path), "allow_insecure": True, **body}
    )
    assert resp.status_code == 201, resp.text
    sub: dict[str, Any] = resp.json()
    receiver.secrets.setdefault(path, []).append(sub["secret"])
    return sub


async def test_events_on_the_bus_are_delivered_signed_as_cloudevents(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    async with kit.notifier(kit.settings()) as http:
        sub = await subscribe(
            http,
            receiver,
            event_types=["model_version.*"],
            subjects=["models/churn"],
            headers={"x-team": "ml"},
        )
        assert sub["secret"].startswith("whsec_")
        wanted = kit.registered("churn", 3)
        await publisher.publish(kit.registered("other", 1))  # subject filtered out
        await publisher.publish(
            DeploymentStateChanged(
                deployment_name="blue",
                endpoint_name="churn",
                model_name="churn",
                version=3,
                state=DeploymentState.HEALTHY,
            )
        )  # type filtered out
        await publisher.publish(wanted)
        await receiver.wait_for(lambda: len(receiver.received) >= 1)

        got = receiver.received[0]
        assert got.verified
        assert got.headers["content-type"] == "application/cloudevents+json"
        assert got.headers["x-team"] == "ml"
        ce = got.cloudevent
        assert ce["id"] == str(wanted.event_id)
        assert ce["type"] == "model_version.registered.v1"
        assert ce["source"] == "/modelops/registry"
        assert ce["subject"] == "models/churn/versions/3"
        assert ce.get_data()["model_name"] == "churn"

        async def delivered() -> bool:
            r = await http.get("/v1/deliveries", params={"subscription_id": sub["id"]})
            items = r.json()["items"]
            return len(items) == 1 and items[0]["status"] == "delivered"

        await kit.poll(delivered)
        listed = (
            await http.get("/v1/deliveries", params={"event_id": str(wanted.event_id)})
        ).json()
        (delivery,) = listed["items"]
        assert delivery["id"] == got.webhook_id
        assert delivery["attempts"][0]["status_code"] == 204
        assert delivery["attempts"][0]["latency_ms"] > 0
        one = (await http.get(f"/v1/deliveries/{delivery['id']}")).json()
        assert (one["status"], one["event_id"]) == ("delivered", str(wanted.event_id))
        assert len(receiver.received) == 1


async def test_a_receiver_down_for_a_while_gets_every_event_once_per_webhook_id(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    async with kit.notifier(kit.settings()) as http:
        sub = await subscribe(http, receiver)
        await receiver.stop()
        events = [kit.registered("churn", v) for v in range(1, 7)]
        for event in events:
            await publisher.publish(event)

        async def retried() -> bool:
            r = await http.get("/v1/deliveries", params={"subscription_id": sub["id"]})
            items = r.json()["items"]
            return len(items) == 6 and all(d["attempt_count"] >= 2 for d in items)

        await kit.poll(retried)
        await receiver.start()
        await receiver.wait_for(lambda: len(receiver.ok()) >= 6)
        await kit.poll(lambda: _all_delivered(http, sub["id"], 6))

    ids = [r.webhook_id for r in receiver.ok()]
    assert len(ids) == len(set(ids)) == 6
    assert {r.cloudevent["id"] for r in receiver.ok()} == {str(e.event_id) for e in events}
    assert all(r.verified for r in receiver.received)


async def _all_delivered(http: httpx.AsyncClient, sub_id: str, count: int) -> bool:
    r = await http.get("/v1/deliveries", params={"subscription_id": sub_id, "status": "delivered"})
    return len(r.json()["items"]) == count


async def test_retry_after_is_honoured_and_410_disables_the_subscription(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    async with kit.notifier(kit.settings()) as http:
        sub = await subscribe(http, receiver)
        receiver.script.extend([(429, {"retry-after": "2"}), (503, {}), (204, {})])
        await publisher.publish(kit.registered("churn", 1))
        await receiver.wait_for(lambda: len(receiver.received) >= 3)
        first, second, third = receiver.received[:3]
        assert second.at - first.at >= 1.9  # Retry-After: 2 beats the 0.3 s schedule
        assert first.webhook_id == second.webhook_id == third.webhook_id
        await kit.poll(lambda: _all_delivered(http, sub["id"], 1))

        receiver.script.append((410, {}))
        await publisher.publish(kit.registered("churn", 2))

        async def disabled() -> bool:
            body = (await http.get(f"/v1/subscriptions/{sub['id']}")).json()
            return bool(body["disabled"])

        await kit.poll(disabled)
        dead = await http.get(
            "/v1/deliveries", params={"subscription_id": sub["id"], "status": "dead_letter"}
        )
        assert [d["last_status_code"] for d in dead.json()["items"]] == [410]
        seen = len(receiver.received)
        await publisher.publish(kit.registered("churn", 3))  # nothing for a disabled subscription
        ping = await http.post(f"/v1/subscriptions/{sub['id']}/test")
        assert ping.status_code == 409
        assert len(receiver.received) == seen


async def test_dead_letter_after_the_last_attempt_then_replay(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    settings = kit.settings(retry_schedule_s=[0.1, 0.1])
    async with kit.notifier(settings) as http:
        sub = await subscribe(http, receiver)
        receiver.script.extend([(500, {})] * 3)
        await publisher.publish(kit.registered("churn", 1))

        async def dead() -> list[dict[str, Any]]:
            r = await http.get("/v1/deliveries", params={"status": "dead_letter"})
            items: list[dict[str, Any]] = r.json()["items"]
            return items

        await kit.poll(dead)
        (delivery,) = await dead()
        assert delivery["attempt_count"] == 3
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]

        replay = await http.post(f"/v1/deliveries/{delivery['id']}/replay")
        assert replay.status_code == 200, replay.text
        await kit.poll(lambda: _all_delivered(http, sub["id"], 1))
        assert receiver.received[-1].webhook_id == delivery["id"]
        final = (await http.get(f"/v1/deliveries/{delivery['id']}")).json()
        assert final["series"] == 1
        assert final["attempt_count"] == 4

        since = {"since": "2000-01-01T00:00:00Z", "statuses": ["delivered"]}
        again = await http.post(f"/v1/subscriptions/{sub['id']}/replay", json=since)
        assert again.json() == {"replayed": 1}
        await receiver.wait_for(lambda: len(receiver.ok()) == 2)
        assert {r.webhook_id for r in receiver.received} == {delivery["id"]}


async def test_ping_rotation_and_pause(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    async with kit.notifier(kit.settings()) as http:
        sub = await subscribe(http, receiver, description="ops")
        ping = (await http.post(f"/v1/subscriptions/{sub['id']}/test")).json()
        assert ping["status"] == "delivered"
        assert receiver.received[-1].cloudevent["type"] == "modelops.ping"
        assert receiver.received[-1].verified

        rotated = (
            await http.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", json={"overlap_s": 60})
        ).json()
        assert rotated["secret"] != sub["secret"]
        await http.post(f"/v1/subscriptions/{sub['id']}/test")
        signatures = receiver.received[-1].headers["webhook-signature"].split(" ")
        assert len(signatures) == 2  # both secrets sign during the overlap
        receiver.secrets["/hook"] = [rotated["secret"]]
        assert receiver._verify("/hook", receiver.received[-1].body, receiver.received[-1].headers)
        receiver.secrets["/hook"] = [sub["secret"]]
        assert receiver._verify("/hook", receiver.received[-1].body, receiver.received[-1].headers)

        paused = await http.post(f"/v1/subscriptions/{sub['id']}/pause")
        assert paused.json()["paused"] is True
        seen = len(receiver.received)
        await publisher.publish(kit.registered("churn", 9))

        async def held() -> bool:
            r = await http.get("/v1/deliveries", params={"status": "pending"})
            return len(r.json()["items"]) == 1

        await kit.poll(held)
        assert len(receiver.received) == seen
        await http.post(f"/v1/subscriptions/{sub['id']}/resume")
        await receiver.wait_for(lambda: len(receiver.received) == seen + 1)
        listed = (await http.get("/v1/subscriptions")).json()["items"]
        assert [s["description"] for s in listed] == ["ops"]
        assert "secret" not in listed[0]
        assert (await http.delete(f"/v1/subscriptions/{sub['id']}")).status_code == 204
        assert (await http.get(f"/v1/subscriptions/{sub['id']}")).status_code == 404


async def test_a_target_that_never_answers_does_not_hold_back_the_others(
    kit: "Kit", receiver: "Receiver", publisher: NatsEventPublisher
) -> None:
    loop = asyncio.get_running_loop()
    silent = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)  # accepts, never answers
    port = silent.sockets[0].getsockname()[1]
    # two intake workers and a long hold: only not waiting for the silent target lets them on
    settings = kit.settings(intake_workers=2, hold_s=60.0, timeout_s=60.0)
    try:
        async with kit.notifier(settings) as http:
            await subscribe(http, receiver)
            body = {"url": f"http://127.0.0.1:{port}/hook", "allow_insecure": True}
            stuck = (await http.post("/v1/subscriptions", json=body)).json()
            for v in range(1, 11):
                await publisher.publish(kit.registered("churn", v))
            await receiver.wait_for(lambda: len(receiver.ok()) == 10)

            async def stored() -> bool:
                params = {"subscription_id": stuck["id"], "status": "pending"}
                r = await http.get("/v1/deliveries", params=params)
                return len(r.json()["items"]) == 10

            await kit.poll(stored)  # its deliveries wait in the queue, nothing lost
    finally:
        silent.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
    ],
)
async def test_private_targets_are_refused_unless_allow_listed(kit: "Kit", url: str) -> None:
    settings = kit.settings(allow_private=[])
    async with kit.notifier(settings) as http:
        resp = await http.post("/v1/subscriptions", json={"url": url, "allow_insecure": True})
        assert resp.status_code == 400, resp.text
        assert "refused" in resp.json()["detail"]
        insecure = await http.post("/v1/subscriptions", json={"url": "http://example.com/hook"})
        assert insecure.status_code == 400
        assert "https" in insecure.json()["detail"]
