"""The model server as a wheel, made from the installed package (no build tool at run time).

Every image installs exactly the server code the builder runs; its sha256 is part of the
environment digest, so a server change rebuilds the environment layer.
"""

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import zipfile
from pathlib import Path

DIST = "modelops-modelserver"
PACKAGE = "modelops_modelserver"
EPOCH = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def server_requirements() -> list[str]:
    """The server's pinned dependencies for Linux (markers for other platforms dropped)."""
    reqs = importlib.metadata.requires(DIST) or []
    return [r.split(";")[0].strip() for r in reqs if "extra ==" not in r]


def build_server_wheel(folder: Path) -> tuple[Path, str]:
    """Write modelops_modelserver-<v>-py3-none-any.whl into folder; returns (path, sha256)."""
    dist = importlib.metadata.distribution(DIST)
    version = dist.version
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{PACKAGE} is not installed")
    source = Path(spec.origin).parent
    info = f"modelops_modelserver-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"{PACKAGE}/{path.relative_to(source).as_posix()}"] = path.read_bytes()
    requires = "".join(f"Requires-Dist: {r}\n" for r in server_requirements())
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {version}\n{requires}"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: modelops-builder\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = (
        b"[console_scripts]\nmodelops-modelserver = modelops_modelserver.__main__:main\n"
    )
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, EPOCH), data)
    payload = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"modelops_modelserver-{version}-py3-none-any.whl"
    target.write_bytes(payload)
    return target, hashlib.sha256(payload).hexdigest()
