"""Alert rules: e-mail through a local SMTP sink and Slack-style messages, with cool-down."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from email import message_from_bytes
from email.message import Message
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller

from modelops_contracts.events import DeploymentStateChanged, DriftDetected
from modelops_contracts.types import DeploymentState
from modelops_notifier.settings import SmtpSettings
from modelops_servicekit.bus import NatsEventPublisher
from modelops_testkit.processes import free_port

if TYPE_CHECKING:
    from conftest import Kit, Receiver

pytestmark = pytest.mark.integration


class Sink:
    """aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
async def smtp_sink() -> AsyncIterator[tuple[Sink, int]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def drift(monitor: str, run: str) -> DriftDetected:
    return DriftDetected(
        monitor_id=monitor, run_id=run, model_name="churn", drift_share=0.6, endpoint_name="churn"
    )


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_alerts_by_email_and_slack_with_cool_down(
    kit: "Kit",
    smtp_sink: tuple[Sink, int],
    receiver: "Receiver",
    publisher: NatsEventPublisher,
) -> None:
    sink, port = smtp_sink
    settings = kit.settings(
        smtp=SmtpSettings(host="127.0.0.1", port=port, sender="modelops@example.com")
    )
    async with kit.notifier(settings) as http:
        email = await http.post(
            "/v1/alerts",
            json={
                "name": "drift on churn",
                "event_types": ["drift.detected"],
                "subjects": ["models/churn"],
                "cooldown_s": 300,
                "channel": {"kind": "email", "to": ["oncall@example.com"]},
            },
        )
        assert email.status_code == 201, email.text
        slack = await http.post(
            "/v1/alerts",
            json={
                "name": "deployment failed",
                "event_types": ["deployment.state_changed"],
                "where": {"state": "Failed"},
                "allow_insecure": True,
                "cooldown_s": 300,
                "channel": {"kind": "slack", "url": receiver.url("/slack")},
            },
        )
        assert slack.status_code == 201, slack.text

        for run in ("r1", "r2", "r3", "r4"):  # a flapping signal on one monitor
            await publisher.publish(drift("m1", run))
        await publisher.publish(drift("m2", "r1"))  # another monitor alerts on its own
        for state in (DeploymentState.FAILED, DeploymentState.HEALTHY, DeploymentState.FAILED):
            await publisher.publish(
                DeploymentStateChanged(
                    deployment_name="blue",
                    endpoint_name="churn",
                    model_name="churn",
                    version=1,
                    state=state,
                )
            )
        await until(lambda: len(sink.messages) >= 2 and len(receiver.ok("/slack")) >= 1)
        await asyncio.sleep(1.0)  # anything more would arrive by now

        assert len(sink.messages) == 2
        assert {m["To"] for m in sink.messages} == {"oncall@example.com"}
        assert all("drift.detected" in str(m["Subject"]) for m in sink.messages)
        (message,) = receiver.ok("/slack")
        text = json.loads(message.body)["text"]
        assert "deployment failed" in text
        assert "state=Failed" in text
        rules = (await http.get("/v1/alerts")).json()["items"]
        assert [r["name"] for r in rules] == ["drift on churn", "deployment failed"]
