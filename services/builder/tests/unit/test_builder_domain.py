"""Pure rules of packages: digests, Dockerfiles, refusals, resource recommendations."""

import zipfile
from pathlib import Path

import pytest

from modelops_builder import domain
from modelops_builder.domain import Environment, Manifest, PackageError
from modelops_builder.profiling import recommend
from modelops_builder.wheel import build_server_wheel, server_requirements

FILES = (("model.onnx", "a" * 64, 10),)


def manifest(**changes: object) -> Manifest:
    fields: dict[str, object] = {
        "model_name": "iris",
        "version": 1,
        "content_digest": "b" * 64,
        "framework": "onnx",
        "files": FILES,
        "base_image": "base",
    }
    return Manifest(**{**fields, **changes})  # type: ignore[arg-type]  # test values


def test_same_manifest_same_digest_and_model_change_keeps_environment() -> None:
    env = Environment(requirements=("numpy==2.4.6",))
    env_digest = env.digest("w" * 64, "base")
    assert manifest().digest(env_digest) == manifest().digest(env_digest)
    assert manifest().digest(env_digest) != manifest(version=2).digest(env_digest)
    assert Environment(requirements=("NumPy == 2.4.6",)).digest("w" * 64, "base") == env_digest
    assert env.digest("x" * 64, "base") != env_digest  # a new server wheel rebuilds the env


def test_refusals_have_reasons() -> None:
    with pytest.raises(PackageError, match=r"no \.onnx file"):
        manifest(files=(("model.pkl", "a" * 64, 1),))
    with pytest.raises(PackageError, match=r"python 3\.12 unsupported"):
        Environment(python_version="3.12")
    with pytest.raises(PackageError, match="not a plain pip requirement"):
        Environment(requirements=("numpy; rm -rf /",))
    with pytest.raises(PackageError, match="not allowed"):
        manifest(extra_files=(("../x", "t"),))


def test_dockerfiles_put_the_model_last_and_install_offline() -> None:
    env_file = domain.env_dockerfile("base")
    assert "--no-index" in env_file
    assert env_file.index("COPY wheels/") < env_file.index("pip install")
    model_file = domain.model_dockerfile("modelops/env:abc", "d" * 64)
    assert model_file.startswith("FROM modelops/env:abc")
    assert "COPY model/ /model/" in model_file
    meta = manifest(entry_script="def run(d): return d").server_metadata()
    assert meta["entry_script"] == "score.py"


def test_server_wheel_is_deterministic_and_installable_metadata(tmp_path: Path) -> None:
    first, sha1 = build_server_wheel(tmp_path / "a")
    _, sha2 = build_server_wheel(tmp_path / "b")
    assert sha1 == sha2
    names = zipfile.ZipFile(first).namelist()
    assert "modelops_modelserver/app.py" in names
    assert any(n.endswith("/RECORD") for n in names)
    assert any(r.startswith("onnxruntime==") for r in server_requirements())


def test_recommendation_picks_the_busiest_level_within_target() -> None:
    levels = [
        {
            "concurrency": 1,
            "rps": 500.0,
            "p99_ms": 3.0,
            "errors": 0,
            "cpu_cores": 0.4,
            "peak_memory_mb": 100.0,
        },
        {
            "concurrency": 16,
            "rps": 2000.0,
            "p99_ms": 20.0,
            "errors": 0,
            "cpu_cores": 0.93,
            "peak_memory_mb": 120.0,
        },
        {
            "concurrency": 64,
            "rps": 2100.0,
            "p99_ms": 90.0,
            "errors": 0,
            "cpu_cores": 1.0,
            "peak_memory_mb": 130.0,
        },
    ]
    rec = recommend(levels, 50.0, 1.0)
    assert rec == {
        "cpu": 1.0,
        "memory_mb": 256,
        "met_target": True,
        "max_rps": 2000.0,
        "at_concurrency": 16,
    }
    assert recommend(levels, 1.0, 1.0)["met_target"] is False
