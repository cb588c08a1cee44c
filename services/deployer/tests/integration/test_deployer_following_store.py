"""Alias-follow and shadows against the real FerretDB: an image target awaits the new version's
image, the newest move wins, redeliveries create nothing twice, only an event naming a rollout's
target version rolls it back, an endpoint's follow rollout policy is checked and kept; a shadow
awaits its image, is mirrored once Healthy, and stops."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo.asynchronous.database import AsyncDatabase

from modelops_deployer import domain, handlers, rollout, shadowing
from modelops_deployer.api import CreateDeployment, CreateEndpoint
from modelops_deployer.app import create_app
from modelops_deployer.following import follow_alias, follow_image
from modelops_deployer.model_folders import ModelFolders
from modelops_deployer.repository import Repositories
from modelops_deployer.settings import DeployerSettings
from modelops_servicekit.errors import Conflict, NotFound
from modelops_servicekit.mongo import Document

pytestmark = pytest.mark.integration
POLICY = {"steps": [50, 100], "bake_s": 5.0, "guards": {"max_error_rate": 0.05}}


class NoFiles:
    """The docker target needs no files: a model source that must not be asked."""

    async def fetch(self, name: str, version: int, folder: Path) -> dict[str, Any]:
        raise AssertionError("an image target downloads nothing")


class QuietGateway:
    async def stats(self) -> dict[str, Any]:
        return {"deployments": {}}


class NoResolver:
    async def resolve(self, model_name: str, selector: str) -> int:
        raise AssertionError("versions are given")


class Follower:
    """Endpoint `ep` follows tiny@champion with `box` (tiny 1, docker) live."""

    def __init__(self, repos: Repositories, folders: ModelFolders) -> None:
        self.repos, self.folders = repos, folders

    async def alias(self, version: int, since: float | None = None) -> list[str]:
        return await follow_alias(self.repos, self.folders, "tiny", "champion", version, since)

    async def store_image(self, version: int) -> None:
        image = {"_id": f"tiny:{version}", "model_name": "tiny", "version": version,
                 "image": f"tiny:{version}"}  # fmt: skip
        await self.repos.images.insert_one(image)

    async def built(self, version: int, *, store: bool = True) -> list[str]:
        """image.built for the version: the image is stored (once), then followed."""
        if store:
            await self.store_image(version)
        return await follow_image(self.repos, self.folders, "tiny", version)

    async def endpoint(self) -> dict[str, Any]:
        return await self.repos.endpoints.get("ep")


@pytest.fixture
async def follower(mongo_db: AsyncDatabase[Document], tmp_path: Path) -> Follower:
    repos = Repositories(mongo_db)
    await repos.ensure_indexes()
    body = CreateEndpoint.model_validate(
        {"name": "ep", "auth_mode": "none", "follow": "tiny@champion", "follow_rollout": POLICY}
    )
    await handlers.create_endpoint(repos, body.model_dump(), "test")
    spec = CreateDeployment(name="box", endpoint="ep", model_name="tiny", version=1,
                            image="tiny:1", target="docker")  # fmt: skip
    await handlers.create_deployment(repos, NoResolver(), spec.model_dump(), "test")
    return Follower(repos, ModelFolders(tmp_path, NoFiles()))


async def test_the_newest_awaited_image_wins_and_nothing_is_created_twice(
    follower: Follower,
) -> None:
    assert await follower.alias(2, since=100.0) == []
    awaiting = (await follower.endpoint())["awaiting"]
    assert awaiting == {"model_name": "tiny", "alias": "champion", "version": 2, "since": 100.0}
    assert await follower.alias(3, since=200.0) == []
    assert await follower.alias(2, since=100.0) == []  # a stale redelivery
    assert (await follower.endpoint())["awaiting"]["version"] == 3

    assert await follower.built(2) == []  # the alias left version 2: its image creates nothing
    assert await follower.built(3) == ["ep-v3"]
    assert await follower.built(3, store=False) == []  # a redelivered image.built
    assert await follower.alias(3, since=200.0) == []

    assert (await follower.endpoint())["awaiting"] is None
    repos = follower.repos
    names = [d["_id"] for d in await repos.deployments.find({"endpoint": "ep"})]
    assert names == ["box", "ep-v3"]
    new = await repos.deployments.get("ep-v3")
    assert (new["version"], new["image"], new["target"]) == (3, "tiny:3", "docker")
    assert "name" not in new  # the live deployment's name is not copied
    assert new["pending_rollout"] == {"from": "box", **POLICY}


async def test_an_alias_moving_to_a_built_version_drops_the_older_wait(
    follower: Follower,
) -> None:
    assert await follower.alias(2, since=100.0) == []
    await follower.store_image(3)
    assert await follower.alias(3, since=200.0) == ["ep-v3"]
    assert (await follower.endpoint())["awaiting"] is None
    assert await follower.built(2) == []


async def test_only_drift_naming_the_target_version_rolls_a_rollout_back(
    follower: Follower,
) -> None:
    repos = follower.repos
    assert await follower.built(2) == []  # nothing awaited it yet
    assert await follower.alias(2) == ["ep-v2"]
    body = {"to": "ep-v2", "steps": [50, 100], "bake_s": 60.0, "guards": {}}
    started = await rollout.start_rollout(repos, QuietGateway(), "ep", body)

    assert await rollout.flag_breach(repos, "tiny", None, "drift") == 0  # endpoint input drift
    assert await rollout.flag_breach(repos, "tiny", None, "performance:accuracy") == 0
    assert await rollout.flag_breach(repos, "tiny", 1, "drift") == 0  # the old version's
    assert (await repos.rollouts.get(started["_id"]))["breach"] is None
    assert await rollout.flag_breach(repos, "tiny", 2, "drift") == 1
    await rollout.advance_rollouts(repos, QuietGateway())
    assert (await repos.rollouts.get(started["_id"]))["status"] == "rolled_back"
    assert (await repos.endpoints.get("ep"))["traffic"] == {"box": 100, "ep-v2": 0}


async def test_an_endpoint_keeps_its_checked_follow_rollout(
    service_settings: Callable[..., Any], tmp_path: Path
) -> None:
    settings = service_settings(DeployerSettings, "deployer", state_dir=str(tmp_path))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app, startup_timeout=60),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        ep = {"name": "ep", "auth_mode": "none", "follow": "tiny@champion"}
        falling = {**ep, "follow_rollout": {"steps": [50, 10]}}
        refused = await http.post("/v1/endpoints", json=falling)
        assert refused.status_code == 400, refused.text
        alone = {"name": "ep", "follow_rollout": {"steps": [100]}}  # nothing to follow
        assert (await http.post("/v1/endpoints", json=alone)).status_code == 400
        assert (await http.post("/v1/endpoints", json={**ep, "follow": "tiny"})).status_code == 400
        policy = {"steps": [25, 100], "bake_s": 30}
        created = await http.post("/v1/endpoints", json={**ep, "follow_rollout": policy})
        assert created.status_code == 201, created.text
        shown = (await http.get("/v1/endpoints/ep")).json()
    assert shown["follow_rollout"] == {**policy, "guards": domain.GUARDS}
    assert shown["awaiting"] is None


class MirrorGateway:
    async def stats(self) -> dict[str, Any]:
        return {"mirrors": {"ep-shadow-v2": {"mirrored": 40, "agreed": 38, "errors": 0}}}


async def test_a_shadow_awaits_its_image_is_mirrored_once_healthy_and_stops(
    follower: Follower,
) -> None:
    repos, folders = follower.repos, follower.folders

    async def start(version: int, percent: int = 30) -> dict[str, Any]:
        return await shadowing.start_shadow(repos, folders, None, "ep", version, percent, None, "t")

    assert (await start(2))["state"] == shadowing.AWAITING_IMAGE
    await follower.store_image(2)
    started = await start(2)
    assert (started["deployment"], started["percent"], started["mirroring"]) == (
        "ep-shadow-v2", 0, False)  # fmt: skip
    assert (await start(2))["deployment"] == "ep-shadow-v2"  # a retry creates nothing more
    shadow = await repos.deployments.get("ep-shadow-v2")
    assert (shadow["image"], shadow["pending_mirror"], shadow["target"]) == ("tiny:2", 30, "docker")
    assert (await follower.endpoint())["traffic"] == {"box": 100}  # never live traffic

    assert await shadowing.mirror_pending(repos) == []  # not Healthy yet
    await repos.deployments.update(shadow, {"state": "Healthy"})
    assert await shadowing.mirror_pending(repos) == ["ep"]
    assert await shadowing.mirror_pending(repos) == []
    assert (await follower.endpoint())["mirror"] == {"ep-shadow-v2": 30}
    status = await shadowing.shadow_status(repos, MirrorGateway(), "ep", 2)
    assert status["mirroring"] is True
    assert status["stats"] == {"mirrored": 40, "agreed": 38, "errors": 0}

    with pytest.raises(Conflict, match="at most 50%"):
        await start(3)  # 30% + 30% mirrored
    with pytest.raises(Conflict, match="serves already"):
        await start(1)

    assert await shadowing.stop_shadow(repos, "ep", 2) is True
    assert (await follower.endpoint())["mirror"] == {}
    assert (await repos.deployments.get("ep-shadow-v2"))["deleted"] is True
    assert await shadowing.stop_shadow(repos, "ep", 2) is False
    with pytest.raises(NotFound):
        await shadowing.shadow_status(repos, None, "ep", 2)
    again = await start(2, 50)  # a deleted shadow is created anew, its generation carried on
    assert again["state"] == "Creating"
    assert (await repos.deployments.get("ep-shadow-v2"))["deleted"] is False


async def test_an_alias_moving_back_to_a_deleted_follow_deployment_creates_it_again(
    follower: Follower,
) -> None:
    await follower.store_image(2)
    assert await follower.alias(2, since=100.0) == ["ep-v2"]
    await handlers.mark_deployment_deleted(
        follower.repos, await follower.repos.deployments.get("ep-v2")
    )
    assert await follower.alias(2, since=200.0) == ["ep-v2"]
    assert (await follower.repos.deployments.get("ep-v2"))["deleted"] is False


async def healthy(repos: Repositories, name: str) -> None:
    await repos.deployments.update(await repos.deployments.get(name), {"state": "Healthy"})


async def test_an_alias_moving_twice_rolls_out_both_moves_in_order(follower: Follower) -> None:
    repos, gateway = follower.repos, QuietGateway()
    for version in (2, 3):
        await follower.store_image(version)
    assert await follower.alias(2, since=100.0) == ["ep-v2"]
    await healthy(repos, "ep-v2")
    await rollout.start_pending(repos, gateway)
    (first,) = await repos.rollouts.find({"endpoint": "ep"})
    assert (first["from"], first["to"], first["status"]) == ("box", "ep-v2", "running")

    assert await follower.alias(3, since=200.0) == ["ep-v3"]  # during the first rollout
    await healthy(repos, "ep-v3")
    await rollout.start_pending(repos, gateway)
    assert len(await repos.rollouts.find({"endpoint": "ep"})) == 1  # it waits its turn
    assert (await repos.deployments.get("ep-v3"))["pending_rollout"] is not None

    await repos.rollouts.update(first, {"status": "completed"})
    await handlers.set_traffic(repos, "ep", {"box": 0, "ep-v2": 100}, None)
    await rollout.start_pending(repos, gateway)
    second = next(r for r in await repos.rollouts.find({"endpoint": "ep"}) if r["to"] == "ep-v3")
    assert (second["from"], second["status"]) == ("ep-v2", "running")  # from what is live now
    assert (await repos.deployments.get("ep-v3"))["pending_rollout"] is None


async def test_an_older_move_that_becomes_healthy_last_never_rolls_out(follower: Follower) -> None:
    repos, gateway = follower.repos, QuietGateway()
    for version in (2, 3):
        await follower.store_image(version)
    assert await follower.alias(2, since=100.0) == ["ep-v2"]
    assert await follower.alias(3, since=200.0) == ["ep-v3"]
    await healthy(repos, "ep-v3")  # the newer one is ready first
    await rollout.start_pending(repos, gateway)
    (only,) = await repos.rollouts.find({"endpoint": "ep"})
    assert (only["from"], only["to"]) == ("box", "ep-v3")
    await repos.rollouts.update(only, {"status": "completed"})
    await handlers.set_traffic(repos, "ep", {"box": 0, "ep-v3": 100}, None)

    await healthy(repos, "ep-v2")
    await rollout.start_pending(repos, gateway)
    assert len(await repos.rollouts.find({"endpoint": "ep"})) == 1  # v2 is superseded
    assert (await repos.deployments.get("ep-v2"))["pending_rollout"] is None
    assert (await follower.endpoint())["traffic"]["ep-v3"] == 100
