"""Facts about the platform itself: messages no consumer could handle."""

from typing import ClassVar

from modelops_contracts.events.base import Event


class MessageDeadLettered(Event):
    """A message was set aside: undecodable, unknown, or out of delivery attempts."""

    subject: ClassVar[str] = "modelops.message.dead_lettered.v1"

    service: str
    consumer: str
    original_subject: str
    reason: str
    deliveries: int
    payload: str
    """The original body, decoded as UTF-8 with replacement characters."""

    def entity(self) -> str:
        return f"consumers/{self.consumer}"
