"""Remove what a test or a benchmark left on the real stack under its namespace.

A namespace's services each leave a database and a bucket, and a service started against the
bus leaves its streams, each of which reserves JetStream storage (2 GiB for predictions):
enough of them left behind and JetStream refuses new streams for lack of storage.
"""

import asyncio

from minio import Minio
from pymongo import AsyncMongoClient

from modelops_servicekit.bus import Bus, delete_streams, make_broker
from modelops_servicekit.mongo import Document
from modelops_servicekit.settings import NatsSettings
from modelops_testkit.processes import PEER_URL_ENV
from modelops_testkit.servers import Stack


def _drop_buckets(real: Stack, prefix: str) -> None:
    client = Minio(real.s3_endpoint, real.s3_access_key, real.s3_secret_key, secure=False)
    for bucket in client.list_buckets():
        if bucket.name.startswith(prefix):
            for obj in client.list_objects(bucket.name, recursive=True):
                client.remove_object(bucket.name, str(obj.object_name))
            client.remove_bucket(bucket.name)


async def remove_namespace(real: Stack, namespace: str, *, streams: bool = True) -> None:
    """Drop the namespace's databases (`<ns>_test` and one per service: named drops, since
    listing databases is slow on FerretDB's SQLite backend), its buckets and its streams."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(real.mongo_url)
    try:
        for name in [f"{namespace}_test", *(f"{namespace}_{service}" for service in PEER_URL_ENV)]:
            await client.drop_database(name)
    finally:
        await client.close()
    await asyncio.to_thread(_drop_buckets, real, namespace)
    if streams:
        settings = NatsSettings(url=real.nats_url, namespace=namespace)
        broker = make_broker(settings, service="cleanup")
        await broker.connect()
        try:
            await delete_streams(broker, Bus(settings, "cleanup"))
        finally:
            await broker.stop()
