"""Use cases: create a package from a registered version, build (or reuse) its image."""

import asyncio
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from modelops_builder import context, domain
from modelops_builder.domain import Environment, Manifest, PackageError
from modelops_builder.engine import BuildFailed, BuiltImage
from modelops_builder.environments import Environments, failure_reason
from modelops_builder.logs import LiveLog
from modelops_builder.ports import Engine, Registry
from modelops_builder.repository import MongoBuilderStore, now
from modelops_builder.settings import BuilderSettings
from modelops_contracts.api.environments import PYTHON_VERSION
from modelops_contracts.events import ImageBuildFailed, ImageBuilt
from modelops_servicekit.errors import Invalid, NotFound
from modelops_servicekit.objects import ObjectStore

log = structlog.get_logger(__name__)


@dataclass
class PackageRequest:
    """What a caller asks to package (HTTP body, CLI, or auto-build defaults)."""

    model: str
    version: str = "latest"
    entry_script: str | None = None
    requirements: list[str] = field(default_factory=list)
    python_version: str = PYTHON_VERSION
    schema_: dict[str, Any] | None = None
    extra_files: dict[str, str] = field(default_factory=dict)
    sample_input: Any = None
    script_input: str = "numpy"
    base_image: str | None = None


class Packager:
    """Packages and images; one instance per service process."""

    def __init__(
        self,
        settings: BuilderSettings,
        store: MongoBuilderStore,
        registry: Registry,
        engine: Engine,
        objects: ObjectStore,
        kick: Any = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.engine = engine
        self.objects = objects
        self.kick = kick or (lambda: None)
        self.live: dict[str, LiveLog] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.environments = Environments(settings, engine)
        self.server_wheel_sha = self.environments.server_wheel_sha

    # -- packages ------------------------------------------------------------------------
    async def create_package(self, req: PackageRequest, user: str) -> tuple[dict[str, Any], bool]:
        info = await self.registry.version(req.model, req.version)
        schema = req.schema_
        if schema is None and info.inputs:
            schema = {
                "inputs": [s.model_dump() for s in info.inputs],
                "outputs": [s.model_dump() for s in info.outputs or []],
            }
        base = req.base_image or self.settings.docker.base_image
        try:
            manifest = Manifest(
                model_name=info.model_name,
                version=info.version,
                content_digest=info.content_digest,
                framework=str(info.framework),
                files=tuple((f.path, f.sha256, f.size) for f in info.files),
                environment=Environment(req.python_version, tuple(req.requirements)),
                entry_script=req.entry_script,
                schema=schema or {},
                extra_files=tuple(sorted(req.extra_files.items())),
                sample_input=req.sample_input,
                script_input=req.script_input,
                base_image=base,
            )
        except PackageError as exc:
            raise Invalid(str(exc)) from exc
        env_digest = manifest.environment.digest(self.server_wheel_sha, base)
        digest = manifest.digest(env_digest)
        doc = {
            "_id": f"{info.model_name}-{info.version}-{digest[:12]}",
            "model_name": info.model_name,
            "version": info.version,
            "manifest": _manifest_doc(manifest),
            "manifest_digest": digest,
            "env_digest": env_digest,
            "created_by": user,
            "created_at": now(),
        }
        return await self.store.insert_package(doc)

    async def package(self, package_id: str) -> dict[str, Any]:
        doc = await self.store.package(package_id)
        if doc is None:
            raise NotFound(f"no package {package_id!r}")
        return doc

    # -- builds --------------------------------------------------------------------------
    async def build(self, package_id: str) -> tuple[dict[str, Any], bool]:
        """Start building a package's image (or reuse it); (image doc, a build started)."""
        pkg = await self.package(package_id)
        digest = pkg["manifest_digest"]
        manifest = _manifest(pkg["manifest"])
        tag = domain.image_tag(manifest.model_name, manifest.version, digest)
        claim = {
            "_id": digest,
            "package_id": package_id,
            "model_name": manifest.model_name,
            "version": manifest.version,
            "tag": tag,
            "status": "building",
            "started_at": now(),
            "log_tail": "",
        }
        doc, started = await self.store.claim_build(claim)
        if not started:
            if doc["status"] == "built" and doc["package_id"] != package_id:
                doc["package_id"] = package_id
            if doc["status"] == "built":
                await self._announce_reuse(doc, pkg)
            return doc, False
        live = LiveLog(asyncio.get_running_loop())
        self.live[digest] = live
        task = asyncio.create_task(self._build(pkg, manifest, tag, live))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return doc, True

    async def _announce_reuse(self, doc: dict[str, Any], pkg: dict[str, Any]) -> None:
        event = ImageBuilt(
            package_id=pkg["_id"],
            model_name=doc["model_name"],
            version=doc["version"],
            image=doc["tag"],
            image_id=doc["image_id"],
            manifest_digest=doc["_id"],
            base_image=pkg["manifest"]["base_image"],
            size_bytes=doc.get("size_bytes", 0),
            build_seconds=0.0,
            reused=True,
        )
        await self.store.announce("images", doc["_id"], [event])
        self.kick()

    async def _build(self, pkg: dict[str, Any], m: Manifest, tag: str, live: LiveLog) -> None:
        started = time.monotonic()
        digest = pkg["manifest_digest"]
        try:
            image = await asyncio.wait_for(
                self._steps(pkg, m, tag, live), self.settings.docker.build_timeout_s
            )
        except (TimeoutError, BuildFailed, PackageError, Exception) as exc:
            reason = failure_reason(exc, self.settings.docker.build_timeout_s)
            live.append(f"build failed: {reason}")
            await self._finish_failed(pkg, m, live, reason)
            log.warning("image_build_failed", package_id=pkg["_id"], reason=reason)
        else:
            seconds = round(time.monotonic() - started, 3)
            live.append(f"built {tag} ({image.image_id[:19]}) in {seconds:.1f} s")
            await self._finish_built(pkg, m, image, seconds, live)
            log.info("image_built", package_id=pkg["_id"], image=tag, seconds=seconds)
        finally:
            live.close()
            self.live.pop(digest, None)

    async def _steps(self, pkg: dict[str, Any], m: Manifest, tag: str, live: LiveLog) -> BuiltImage:
        env_tag, _ = await self.environments.ensure(m.environment, m.base_image, live.append)
        folder = self.settings.work_dir / "contexts" / pkg["manifest_digest"]
        await self._model_folder(pkg, m, folder / "model")
        files = context.folder_files(folder / "model", "model")
        files["Dockerfile"] = domain.model_dockerfile(env_tag, pkg["manifest_digest"]).encode()
        tar = await asyncio.to_thread(context.tar_context, files)
        labels = {"org.modelops.package": pkg["_id"], "org.modelops.model": m.model_name}
        timeout = self.settings.docker.build_timeout_s
        image = await asyncio.to_thread(self.engine.build, tar, tag, live.append, timeout, labels)
        if self.settings.docker.push_registry:
            pushed = await asyncio.to_thread(
                self.engine.push, tag, self.settings.docker.push_registry, live.append
            )
            live.append(f"pushed {pushed}")
        return image

    async def _model_folder(self, pkg: dict[str, Any], m: Manifest, folder: Path) -> None:
        await asyncio.to_thread(_fresh_folder, folder)
        info = await self.registry.version(m.model_name, m.version)
        if info.content_digest != m.content_digest:
            raise PackageError(f"{m.model_name}:{m.version} changed since it was packaged")
        await self.registry.download(info, folder)
        if m.entry_script is not None:
            (folder / "score.py").write_text(m.entry_script)
        for path, text in m.extra_files:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text)
        (folder / "modelserver.json").write_text(json.dumps(m.server_metadata()))

    async def _save_log(self, digest: str, live: LiveLog) -> str:
        path = self.settings.work_dir / "logs" / f"{digest}.log"
        text = "\n".join(live.lines) + "\n"
        await asyncio.to_thread(_write, path, text)
        stored = await self.objects.put_file(path, f"builds/{digest}/build.log")
        return stored.key

    async def _finish_built(
        self, pkg: dict[str, Any], m: Manifest, image: BuiltImage, seconds: float, live: LiveLog
    ) -> None:
        key = await self._save_log(pkg["manifest_digest"], live)
        event = ImageBuilt(
            package_id=pkg["_id"],
            model_name=m.model_name,
            version=m.version,
            image=image.tag,
            image_id=image.image_id,
            manifest_digest=pkg["manifest_digest"],
            base_image=m.base_image,
            size_bytes=image.size_bytes,
            build_seconds=seconds,
        )
        fields = {"status": "built", "image_id": image.image_id, "size_bytes": image.size_bytes}
        fields |= {
            "build_seconds": seconds,
            "log_key": key,
            "log_tail": domain.log_tail(live.lines),
        }
        await self.store.finish_image(pkg["manifest_digest"], fields, [event])
        self.kick()

    async def _finish_failed(
        self, pkg: dict[str, Any], m: Manifest, live: LiveLog, reason: str
    ) -> None:
        await asyncio.sleep(0)  # let the last appended lines land
        key = await self._save_log(pkg["manifest_digest"], live)
        tail = domain.log_tail(live.lines)
        event = ImageBuildFailed(
            package_id=pkg["_id"],
            model_name=m.model_name,
            version=m.version,
            reason=reason,
            log_tail=tail,
        )
        fields = {"status": "failed", "reason": reason, "log_key": key, "log_tail": tail}
        await self.store.finish_image(pkg["manifest_digest"], fields, [event])
        self.kick()

    async def stored_log(self, image: dict[str, Any]) -> str:
        key = image.get("log_key")
        if not key:
            return str(image.get("log_tail", ""))
        chunks = [c async for c in self.objects.get_stream(key)]
        return b"".join(chunks).decode("utf-8", "replace")

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.environments.close()


def _fresh_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _manifest_doc(m: Manifest) -> dict[str, Any]:
    doc = asdict(m)
    # FerretDB stores no nested arrays: tuples become objects.
    doc["files"] = [{"path": p, "sha256": s, "size": n} for p, s, n in m.files]
    doc["extra_files"] = [{"path": p, "text": t} for p, t in m.extra_files]
    doc["sample_input"] = json.dumps(m.sample_input)  # any JSON, stored verbatim
    return doc


def _manifest(doc: dict[str, Any]) -> Manifest:
    env = doc["environment"]
    return Manifest(
        model_name=doc["model_name"],
        version=doc["version"],
        content_digest=doc["content_digest"],
        framework=doc["framework"],
        files=tuple((f["path"], f["sha256"], f["size"]) for f in doc["files"]),
        environment=Environment(env["python_version"], tuple(env["requirements"])),
        entry_script=doc["entry_script"],
        schema=doc["schema"],
        extra_files=tuple((f["path"], f["text"]) for f in doc["extra_files"]),
        sample_input=json.loads(doc["sample_input"]),
        script_input=doc["script_input"],
        base_image=doc["base_image"],
    )
