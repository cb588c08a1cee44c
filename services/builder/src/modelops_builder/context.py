"""Build contexts on the host: wheels downloaded once per environment, tarred for the engine.

Builds run without network: `pip download` fetches every wheel here (cached by environment
digest), and the image installs them with `--no-index`.
"""

import io
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

from modelops_builder.domain import Environment, PackageError

Log = Callable[[str], None]


def pip_download(
    env: Environment,
    server_wheel: Path,
    server_reqs: list[str],
    target: Path,
    platforms: list[str],
    index_url: str,
    log: Log,
    timeout_s: float,
) -> None:
    """Fill target/ with every wheel the image needs and a requirements.txt naming them."""
    done = target / ".complete"
    if done.exists():
        log(f"wheels: reusing {target.name} (cached)")
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    version = env.python_version.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-color"]
    cmd += ["--only-binary=:all:", "--python-version", env.python_version]
    cmd += ["--implementation", "cp", "--abi", f"cp{version}", "--abi", "abi3", "--abi", "none"]
    for platform in platforms:
        cmd += ["--platform", platform]
    if index_url:
        cmd += ["--index-url", index_url]
    cmd += ["-d", str(target), *server_reqs, *env.requirements]
    log("wheels: " + " ".join(cmd[3:]))
    _run(cmd, log, timeout_s)
    shutil.copy2(server_wheel, target / server_wheel.name)
    reqs = [f"/tmp/wheels/{server_wheel.name}", *env.requirements]  # noqa: S108  # in the image
    (target / "requirements.txt").write_text("\n".join(reqs) + "\n")
    done.write_text("ok")


def _run(cmd: list[str], log: Log, timeout_s: float) -> None:
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        timer = threading.Timer(timeout_s, proc.kill)  # a hung download never hangs the build
        timer.start()
        try:
            for line in proc.stdout:
                log(line.rstrip())
            code = proc.wait()
        finally:
            timer.cancel()
    if code < 0:
        raise PackageError(f"pip download took longer than {timeout_s:g} s")
    if code != 0:
        raise PackageError(f"pip download failed (exit {code}): a requirement has no wheel?")


def tar_context(files: dict[str, bytes | Path]) -> io.BytesIO:
    """An in-memory tar of {path in context: bytes or a local file} (deterministic order)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in sorted(files):
            value = files[name]
            if isinstance(value, Path):
                info = tar.gettarinfo(str(value), arcname=name)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with value.open("rb") as f:
                    tar.addfile(info, f)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    buffer.seek(0)
    return buffer


def folder_files(folder: Path, prefix: str) -> dict[str, bytes | Path]:
    """Every file of a folder, keyed by its path under prefix/ in the context."""
    return {
        f"{prefix}/{p.relative_to(folder).as_posix()}": p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".complete"
    }
