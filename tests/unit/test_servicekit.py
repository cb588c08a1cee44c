"""Pure parts of the service kit: names on the bus, settings, CloudEvents headers, problems."""

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from modelops_contracts.events import ModelAliasSet, PredictionLogged
from modelops_contracts.events.examples import EXAMPLES
from modelops_servicekit.bus import (
    Bus,
    Undecodable,
    catalog_decoder,
    cloudevent_headers,
    typed_decoder,
)
from modelops_servicekit.errors import Conflict, NotFound
from modelops_servicekit.http import health_router, service_app
from modelops_servicekit.outbox import decode_entry, outbox_entries, push_outbox
from modelops_servicekit.settings import NatsSettings, ServiceSettings


class RegistryLike(ServiceSettings):
    service = "scoring_gateway"
    default_port = 8104


def test_a_namespace_isolates_subjects_and_streams() -> None:
    plain, isolated = Bus(NatsSettings(), "registry"), Bus(NatsSettings(namespace="t1"), "registry")
    assert plain.subject(ModelAliasSet) == "modelops.model_alias.set.v1"
    assert isolated.subject(ModelAliasSet) == "t1.modelops.model_alias.set.v1"
    assert isolated.bare("t1.modelops.model_alias.set.v1") == ModelAliasSet.subject
    assert (plain.events_stream, isolated.events_stream) == (
        "MODELOPS_EVENTS",
        "MODELOPS_EVENTS_T1",
    )
    assert plain.stream_for(PredictionLogged.subject) == "MODELOPS_PREDICTIONS"
    assert plain.stream_for(ModelAliasSet.subject) == "MODELOPS_EVENTS"
    assert plain.durable(ModelAliasSet) == "registry__model_alias_set_v1"
    assert plain.durable("modelops.>") == "registry__all"
    assert "modelops.prediction.>" not in plain.event_subjects()  # streams must not overlap


def test_settings_default_to_the_service_and_read_nested_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELOPS_MONGO__URL", "mongodb://db:1")
    monkeypatch.setenv("MODELOPS_NATS__MAX_DELIVER", "9")
    settings = RegistryLike()
    assert settings.mongo.url == "mongodb://db:1"
    assert settings.mongo.database == "scoring_gateway"
    assert settings.objects.bucket == "scoring-gateway"
    assert settings.http.port == 8104
    assert settings.nats.max_deliver == 9
    assert "modelops-secret" not in repr(settings)  # secrets never print


def test_cloudevent_headers_follow_the_nats_binary_binding() -> None:
    event = EXAMPLES[ModelAliasSet]
    headers = cloudevent_headers(event, "/modelops/registry")
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == str(event.event_id)
    assert headers["ce-type"] == "model_alias.set.v1"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-subject"] == "models/churn/aliases/champion"


def test_decoders_reject_what_they_cannot_read() -> None:
    good = EXAMPLES[ModelAliasSet].model_dump_json().encode()
    assert catalog_decoder(ModelAliasSet.subject, good) == EXAMPLES[ModelAliasSet]
    with pytest.raises(Undecodable, match="unknown subject"):
        catalog_decoder("modelops.nothing.happened.v1", good)
    with pytest.raises(Undecodable, match="not a valid ModelAliasSet"):
        typed_decoder(ModelAliasSet)(ModelAliasSet.subject, b"[]")


def test_outbox_entries_round_trip_and_join_an_update() -> None:
    event = EXAMPLES[ModelAliasSet]
    update = push_outbox({"$set": {"v": 2}, "$push": {"history": 1}}, [event])
    assert update["$set"] == {"v": 2}
    assert update["$push"]["history"] == 1
    assert decode_entry(update["$push"]["_outbox"]["$each"][0]) == event
    assert push_outbox({"$set": {}}, []) == {"$set": {}}
    assert outbox_entries([]) == []


class Body(BaseModel):
    name: str


async def test_errors_are_problem_json_with_the_request_id() -> None:
    app, metrics = service_app("t")
    router = APIRouter()

    @router.get("/missing")
    async def missing() -> None:
        raise NotFound("model 'churn' has no version 9")

    @router.post("/conflict")
    async def conflict(body: Body) -> None:
        raise Conflict("in use", deployments=["blue"])

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.include_router(router)
    app.include_router(health_router({}, metrics))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/missing", headers={"x-request-id": "abc"})
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "model 'churn' has no version 9"
        assert r.json()["request_id"] == r.headers["x-request-id"] == "abc"
        r = await http.post("/conflict", json={"name": "x"})
        assert (r.status_code, r.json()["deployments"]) == (409, ["blue"])
        r = await http.post("/conflict", json={"nom": "x"})
        assert r.status_code == 422
        assert "body.name" in r.json()["detail"]
        r = await http.get("/boom")
        assert r.status_code == 500
        assert "secret internals" not in r.text
        assert (await http.get("/health/ready")).status_code == 200
        assert "modelops_http_requests_total" in (await http.get("/metrics")).text


def test_an_app_is_a_fastapi_app() -> None:
    assert isinstance(service_app("x")[0], FastAPI)
