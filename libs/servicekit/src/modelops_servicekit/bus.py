"""The one place events meet NATS JetStream: names, streams, publishing and consuming."""

import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import quote

import structlog
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from modelops_contracts.events import ALL_EVENTS, CATALOG, Event, MessageDeadLettered
from modelops_servicekit.errors import ModelOpsError, Unavailable
from modelops_servicekit.settings import NatsSettings

EVENTS_STREAM = "MODELOPS_EVENTS"
PREDICTIONS_STREAM = "MODELOPS_PREDICTIONS"
PREDICTION_ENTITY = "prediction"
# A long poll: messages are handed over as they arrive, and a short one times out under load
# (nats-py then raises a bare TimeoutError, and FastStream restarts the fetch loop).
FETCH_TIMEOUT_S = 5.0
E = TypeVar("E", bound=Event)
log = structlog.get_logger(__name__)


def _entity(subject: str) -> str:
    return subject.split(".")[1]


class Bus:
    """Names on the bus for one namespace: subjects, streams and durable consumers."""

    def __init__(self, settings: NatsSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self._prefix = f"{settings.namespace}." if settings.namespace else ""
        suffix = f"_{settings.namespace.upper()}" if settings.namespace else ""
        self.events_stream = EVENTS_STREAM + suffix
        self.predictions_stream = PREDICTIONS_STREAM + suffix

    def subject(self, event: type[Event] | Event | str) -> str:
        """The subject on the wire (namespaced) for an event class, instance or bare subject."""
        bare = event if isinstance(event, str) else event.subject
        return self._prefix + bare

    def bare(self, wire_subject: str) -> str:
        """The catalog subject of a subject seen on the wire."""
        return wire_subject.removeprefix(self._prefix)

    def stream_for(self, subject: str) -> str:
        """The stream that stores a (bare) subject."""
        if _entity(subject) == PREDICTION_ENTITY:
            return self.predictions_stream
        return self.events_stream

    def event_subjects(self) -> list[str]:
        """The events stream's subjects: one `modelops.<entity>.>` per entity of the catalog."""
        entities = sorted({_entity(cls.subject) for cls in ALL_EVENTS} - {PREDICTION_ENTITY})
        return [self.subject(f"modelops.{entity}.>") for entity in entities]

    def durable(self, event: type[Event] | str) -> str:
        """`<service>__<entity>_<verb>_v<major>`, shared by the service's replicas."""
        bare = event if isinstance(event, str) else event.subject
        tail = bare.removeprefix("modelops.").replace(".", "_")
        tail = tail.replace(">", "all").replace("*", "any")
        return f"{self.service}__{tail}"

    def stream_configs(self) -> list[StreamConfig]:
        """Lifecycle events are kept; predictions have age and size limits."""
        s = self.settings
        return [
            StreamConfig(
                name=self.events_stream,
                subjects=self.event_subjects(),
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=s.events_duplicate_window_s,
            ),
            StreamConfig(
                name=self.predictions_stream,
                subjects=[self.subject("modelops.prediction.>")],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=s.predictions_max_age_s,
                max_bytes=s.predictions_max_bytes,
                discard=DiscardPolicy.OLD,
                duplicate_window=120.0,
            ),
        ]


def make_broker(settings: NatsSettings, *, service: str) -> NatsBroker:
    """A FastStream NATS broker for one service (no module-level brokers)."""
    return NatsBroker(settings.url, name=f"modelops-{service}", graceful_timeout=15.0)


async def ensure_streams(broker: NatsBroker, bus: Bus) -> None:
    """Create or update the platform's streams; the broker must be connected."""
    js = broker.connection.jetstream()
    for config in bus.stream_configs():
        try:
            await js.stream_info(str(config.name))
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def delete_streams(broker: NatsBroker, bus: Bus) -> None:
    """Remove the namespace's streams (test isolation)."""
    js = broker.connection.jetstream()
    for config in bus.stream_configs():
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(str(config.name))


class EventPublisher(Protocol):
    """Publishes facts; returns once the bus has stored them."""

    async def publish(self, event: Event) -> None: ...


def cloudevent_headers(event: Event, source: str) -> dict[str, str]:
    """CloudEvents NATS binding, binary mode, plus `Nats-Msg-Id` for de-duplication."""
    headers = {
        "Nats-Msg-Id": str(event.event_id),
        "ce-specversion": "1.0",
        "ce-id": str(event.event_id),
        "ce-type": event.event_type(),
        "ce-source": source,
        "ce-time": event.occurred_at.isoformat(),
    }
    if entity := event.entity():
        headers["ce-subject"] = quote(entity, safe="/:@")
    if event.correlation_id:
        headers["modelops-correlation-id"] = event.correlation_id
    return headers


class NatsEventPublisher:
    """Publishes events to JetStream and waits for the stream's acknowledgement."""

    def __init__(self, broker: NatsBroker, bus: Bus) -> None:
        self._broker = broker
        self._bus = bus
        self.source = f"/modelops/{bus.service}"

    async def publish(self, event: Event) -> None:
        try:
            await self._broker.publish(
                event.model_dump_json().encode(),
                subject=self._bus.subject(event),
                stream=self._bus.stream_for(event.subject),
                headers=cloudevent_headers(event, self.source),
                correlation_id=event.correlation_id or str(event.event_id),
                timeout=5.0,
            )
        except Exception as exc:  # any transport failure means "not stored yet"
            raise Unavailable(f"publish of {event.subject} not acknowledged: {exc!r}") from exc


class Undecodable(Exception):
    """A message that no retry can make readable."""


Decoder = Callable[[str, bytes], Event]


def typed_decoder(event_cls: type[E]) -> Decoder:
    """Decode one event class; anything else is undecodable."""

    def decode(_subject: str, body: bytes) -> Event:
        try:
            return event_cls.model_validate_json(body)
        except ValidationError as exc:
            raise Undecodable(f"not a valid {event_cls.__name__}: {exc.errors()[:3]}") from exc

    return decode


def catalog_decoder(subject: str, body: bytes) -> Event:
    """Decode any event of the catalog by its subject."""
    event_cls = CATALOG.get(subject)
    if event_cls is None:
        raise Undecodable(f"unknown subject {subject!r}")
    return typed_decoder(event_cls)(subject, body)


class Consumer:
    """Runs a handler per message: ack after success, bounded retries, dead letters."""

    def __init__(
        self,
        bus: Bus,
        publisher: EventPublisher,
        durable: str,
        decode: Decoder,
        handler: Callable[[Event], Awaitable[None]],
    ) -> None:
        self._bus, self._publisher, self.durable = bus, publisher, durable
        self._decode, self._handler = decode, handler

    async def __call__(self, msg: NatsMessage) -> None:
        deliveries = msg.raw_message.metadata.num_delivered or 1
        subject = self._bus.bare(msg.raw_message.subject)
        if deliveries > self._bus.settings.max_deliver:  # the handler crashed or hung every time
            await self._dead_letter(subject, msg.body, "out of delivery attempts", deliveries)
            await msg.ack()
            return
        try:
            event = self._decode(subject, msg.body)
        except Undecodable as exc:
            await self._dead_letter(subject, msg.body, str(exc), deliveries)
            await msg.ack()
            return
        with structlog.contextvars.bound_contextvars(
            subject=subject, event_id=str(event.event_id), correlation_id=event.correlation_id
        ):
            await self._run(msg, subject, event, deliveries)

    async def _run(self, msg: NatsMessage, subject: str, event: Event, deliveries: int) -> None:
        try:
            await self._handler(event)
        except Exception as exc:
            permanent = isinstance(exc, ModelOpsError) and not isinstance(exc, Unavailable)
            if permanent or deliveries >= self._bus.settings.max_deliver:
                log.warning("message_dead_lettered", reason=repr(exc), deliveries=deliveries)
                await self._dead_letter(subject, msg.body, repr(exc), deliveries)
                await msg.ack()
            else:
                delay = self._bus.settings.retry_delay_s * 2 ** (deliveries - 1)
                log.warning("message_retry", reason=repr(exc), deliveries=deliveries, delay_s=delay)
                await msg.nack(delay=delay)
            return
        await msg.ack()

    async def _dead_letter(self, subject: str, body: bytes, reason: str, deliveries: int) -> None:
        if subject == MessageDeadLettered.subject:
            log.error("dead_letter_unhandled", reason=reason)  # never dead-letter a dead letter
            return
        await self._publisher.publish(
            MessageDeadLettered(
                service=self._bus.service,
                consumer=self.durable,
                original_subject=subject,
                reason=reason[:2000],
                deliveries=deliveries,
                payload=body[:65536].decode("utf-8", errors="replace"),
            )
        )


def subscribe(
    router: NatsRouter,
    bus: Bus,
    publisher: EventPublisher,
    subject: str,
    decode: Decoder,
    handler: Callable[[Event], Awaitable[None]],
    *,
    batch_size: int = 16,
    workers: int | None = None,
) -> Consumer:
    """Attach a durable pull consumer (shared by replicas) for a bare subject or pattern.

    `workers` (default `batch_size`) messages are handled concurrently. An idle fetch waits
    (up to 1 s) for a full batch, so a latency-sensitive consumer fetches `batch_size=1`
    and gets its concurrency from `workers` instead.
    """
    workers = workers or batch_size
    consumer = Consumer(bus, publisher, bus.durable(subject), decode, handler)
    stream = bus.stream_for(subject)
    config = ConsumerConfig(  # no max_deliver: the Consumer dead-letters, JetStream never drops
        ack_wait=bus.settings.ack_wait_s,
        max_ack_pending=max(256, batch_size * 4, workers * 4),
    )
    router.subscriber(
        bus.subject(subject),
        stream=JStream(stream, declare=False),
        durable=consumer.durable,
        pull_sub=PullSub(batch_size=batch_size, timeout=FETCH_TIMEOUT_S),
        config=config,
        ack_policy=AckPolicy.MANUAL,
        max_workers=workers,
    )(consumer.__call__)
    return consumer


def subscribe_event(
    router: NatsRouter,
    bus: Bus,
    publisher: EventPublisher,
    event_cls: type[E],
    handler: Callable[[E], Awaitable[None]],
) -> Consumer:
    """Attach a handler typed by its event class; the subject is the class's."""

    async def typed(event: Event) -> None:
        assert isinstance(event, event_cls)
        await handler(event)

    return subscribe(router, bus, publisher, event_cls.subject, typed_decoder(event_cls), typed)
