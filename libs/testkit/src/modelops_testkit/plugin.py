"""pytest plugin: real servers, a namespace per test (streams, database, bucket), a bus probe."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from modelops_servicekit.bus import Bus, delete_streams, ensure_streams, make_broker
from modelops_servicekit.mongo import Document, open_mongo
from modelops_servicekit.objects import MinioObjectStore
from modelops_servicekit.settings import (
    MongoSettings,
    NatsSettings,
    ObjectStoreSettings,
    ServiceSettings,
)
from modelops_testkit.cleanup import remove_namespace
from modelops_testkit.probe import BusProbe
from modelops_testkit.servers import Stack, stack

S = TypeVar("S", bound=ServiceSettings)


@pytest.fixture(scope="session")
def real_stack() -> Stack:
    """The running NATS, MongoDB-wire and MinIO servers (started if needed; never skipped)."""
    return stack()


@pytest.fixture
def namespace() -> str:
    """A unique namespace for this test's subjects, streams, databases and buckets."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def nats_settings(real_stack: Stack, namespace: str) -> NatsSettings:
    return NatsSettings(url=real_stack.nats_url, namespace=namespace, retry_delay_s=0.05)


@pytest.fixture
def mongo_settings(real_stack: Stack, namespace: str) -> MongoSettings:
    return MongoSettings(url=real_stack.mongo_url, database=f"{namespace}_test")


@pytest.fixture
def object_settings(real_stack: Stack, namespace: str) -> ObjectStoreSettings:
    return ObjectStoreSettings(
        endpoint=real_stack.s3_endpoint,
        access_key=SecretStr(real_stack.s3_access_key),
        secret_key=SecretStr(real_stack.s3_secret_key),
        bucket=f"{namespace}-test",
    )


@pytest.fixture
async def streams(nats_settings: NatsSettings) -> AsyncIterator[Bus]:
    """The namespace's streams, created for the test and deleted after it."""
    bus = Bus(nats_settings, "test")
    broker = make_broker(nats_settings, service="test")
    await broker.connect()
    await ensure_streams(broker, bus)
    yield bus
    await delete_streams(broker, bus)
    await broker.stop()


@pytest.fixture
async def bus_probe(streams: Bus, real_stack: Stack) -> AsyncIterator[BusProbe]:
    """Sees every event stored in this test's streams."""
    probe = BusProbe(streams)
    await probe.start(real_stack.nats_url)
    yield probe
    await probe.stop()


@pytest.fixture
async def mongo_db(mongo_settings: MongoSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    """This test's own database, dropped afterwards (opened as services open theirs)."""
    async with open_mongo(mongo_settings) as db:
        yield db


@pytest.fixture
async def object_store(object_settings: ObjectStoreSettings) -> MinioObjectStore:
    """A MinIO store on this test's own bucket."""
    store = MinioObjectStore(object_settings)
    await store.ensure_bucket()
    return store


@pytest.fixture(autouse=True)
async def _cleanup_namespace(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[None]:
    """After a test that used the real stack: drop its databases and buckets."""
    yield
    if "real_stack" not in request.fixturenames:
        return
    real: Stack = request.getfixturevalue("real_stack")
    await remove_namespace(real, namespace, streams=False)  # the streams fixture has them


@pytest.fixture
def service_settings(
    nats_settings: NatsSettings,
    mongo_settings: MongoSettings,
    object_settings: ObjectStoreSettings,
    streams: Bus,
    namespace: str,
) -> Callable[..., Any]:
    """Build a service's settings pointed at this test's namespace, database and bucket."""

    def build(cls: type[S], service: str, **overrides: Any) -> S:
        values: dict[str, Any] = {
            "nats": nats_settings,
            "mongo": mongo_settings.model_copy(update={"database": f"{namespace}_{service}"}),
            "objects": object_settings.model_copy(
                update={"bucket": f"{namespace}-{service.replace('_', '-')}"}
            ),
            **overrides,
        }
        return cls(**values)

    return build


@pytest.fixture
def fleet(real_stack: Stack, namespace: str, streams: Bus, tmp_path: Any) -> Any:
    """Run services as processes in this test's namespace; all stopped afterwards."""
    from modelops_testkit.processes import ServiceFleet

    services = ServiceFleet(real_stack, namespace, tmp_path)
    yield services
    services.stop_all()


@pytest.fixture
def onnx_model(tmp_path: Path) -> Callable[..., Path]:
    """`onnx_model(name="tiny", version=1, scale=1.0)` -> a folder serving y = x * scale."""
    from modelops_testkit.models import write_onnx_model

    def make(name: str = "tiny", version: int = 1, scale: float = 1.0) -> Path:
        return write_onnx_model(tmp_path / f"{name}-{version}-{scale}", name, version, scale)

    return make


@pytest.fixture
def slow_model(tmp_path: Path) -> Callable[..., Path]:
    """`slow_model(name="slow", version=1, delay_ms=100)` -> a folder whose run() sleeps."""
    from modelops_testkit.models import write_slow_model

    def make(name: str = "slow", version: int = 1, delay_ms: int = 100) -> Path:
        return write_slow_model(tmp_path / f"{name}-{version}-{delay_ms}", name, version, delay_ms)

    return make


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """Await a condition, polled every 20 ms, failing after `timeout` seconds."""
    return _eventually
