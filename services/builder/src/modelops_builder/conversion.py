"""Use case: convert a registered version to ONNX and register the result as a new version."""

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

import structlog

from modelops_builder.converters import CONVERTIBLE, NoConverter, convert_and_verify
from modelops_builder.ports import Registry
from modelops_builder.repository import MongoBuilderStore, now
from modelops_builder.settings import BuilderSettings
from modelops_contracts.api.registry import ModelVersionInfo
from modelops_servicekit.errors import Invalid

log = structlog.get_logger(__name__)
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".json", ".ubj", ".txt")


class Converter:
    """Conversions, recorded with their check whether they pass or not."""

    def __init__(
        self, settings: BuilderSettings, store: MongoBuilderStore, registry: Registry
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry

    async def convert(
        self, model: str, version: str, sample: Any, tolerance: float, user: str
    ) -> dict[str, Any]:
        info = await self.registry.version(model, version)
        framework = str(info.framework)
        doc: dict[str, Any] = {
            "_id": uuid.uuid4().hex[:16],
            "model_name": info.model_name,
            "source_version": info.version,
            "framework": framework,
            "tolerance": tolerance,
            "created_by": user,
            "created_at": now(),
        }
        try:
            result = await self._convert(info, framework, sample, tolerance)
        except NoConverter as exc:
            await self.store.save_conversion(doc | {"status": "refused", "reason": str(exc)})
            raise Invalid(str(exc), conversion_id=doc["_id"]) from exc
        check = {k: getattr(result, k) for k in ("rows_checked", "max_abs_diff", "passed")}
        check |= {"label_agreement": result.label_agreement, "tolerance": tolerance}
        check["sample"] = "synthesized (normal, seed 0)" if result.sample_synthesized else "given"
        if not result.passed:
            reason = f"ONNX outputs differ by {result.max_abs_diff:.3g} > tolerance {tolerance:g}"
            await self.store.save_conversion(
                doc | {"status": "failed", "reason": reason, "check": check}
            )
            raise Invalid(reason, conversion_id=doc["_id"], check=check)
        target = await self._register(info, result, check, doc["_id"])
        doc |= {"status": "converted", "check": check, "target_version": target.version}
        await self.store.save_conversion(doc)
        log.info(
            "model_converted", model=info.model_name, source=info.version, target=target.version
        )
        return doc

    async def _convert(
        self, info: ModelVersionInfo, framework: str, sample: Any, tol: float
    ) -> Any:
        if framework not in CONVERTIBLE:
            supported = ", ".join(CONVERTIBLE)
            raise NoConverter(
                f"no ONNX converter for framework {framework!r}; supported: {supported}"
            )
        candidates = [f.path for f in info.files if f.path.endswith(MODEL_SUFFIXES)]
        if len(candidates) != 1:
            raise NoConverter(f"expected one model file, found {candidates or 'none'}")
        pickled = candidates[0].endswith((".pkl", ".pickle", ".joblib"))
        if pickled and not info.trusted:
            raise NoConverter(
                f"{candidates[0]} is a pickle and version {info.version} is not marked trusted"
            )
        with tempfile.TemporaryDirectory(prefix="convert-") as tmp:
            await self.registry.download(info, Path(tmp))
            return await asyncio.to_thread(
                convert_and_verify, framework, Path(tmp) / candidates[0], sample, tol
            )

    async def _register(
        self, info: ModelVersionInfo, result: Any, check: dict[str, Any], conversion_id: str
    ) -> ModelVersionInfo:
        with tempfile.TemporaryDirectory(prefix="onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(result.onnx_bytes)
            entry = await self.registry.upload(path)
        body = {
            "files": [entry],
            "framework": "onnx",
            "description": f"ONNX conversion of {info.model_name}:{info.version}",
            "tags": {**info.tags, "converted_from": str(info.version)},
            "properties": {
                "converted_from": f"{info.model_name}:{info.version}",
                "conversion_id": conversion_id,
                "conversion_max_abs_diff": f"{result.max_abs_diff:.3g}",
                "conversion_tolerance": f"{check['tolerance']:g}",
            },
            "lineage": info.lineage.model_dump(),
            "source_uri": f"models:/{info.model_name}/{info.version}",
        }
        return await self.registry.register(info.model_name, body)
