"""The registry's rules: names, tags, manifests, digests, references, trust and deletion. Pure."""

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from modelops_contracts.api.registry import FileEntry
from modelops_contracts.types import NAME_PATTERN, DeploymentState
from modelops_servicekit.errors import Invalid

NAME_RE = re.compile(NAME_PATTERN)
TAG_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_:/-]{0,127}$")
MAX_TAG_VALUE = 256
MAX_FILES = 10_000
LATEST = "latest"
INACTIVE_DEPLOYMENT_STATES = frozenset({DeploymentState.DELETED, DeploymentState.FAILED})
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".sav"})
DATASET_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class VersionTaken(Exception):
    """Another registration took this version number first: try the next one."""


class IdempotencyKeyTaken(Exception):
    """A version with this idempotency key exists already."""


class StaleWrite(Exception):
    """The document changed since it was read: read again and retry."""


def check_name(name: str, kind: str = "model") -> str:
    """A model, dataset or alias name: lower-case letters, digits and `_.-`, 1-128 chars."""
    if not NAME_RE.fullmatch(name):
        raise Invalid(
            f"invalid {kind} name {name!r}: use 1-128 lower-case letters, digits, '_', '.' or "
            "'-', starting and ending with a letter or digit",
            field=f"{kind}_name",
        )
    return name


def check_tag(key: str, value: str) -> None:
    """Tag and property keys: letters, digits and `_:/-` (no dots, no `$`); values <= 256."""
    if not TAG_KEY_RE.fullmatch(key):
        raise Invalid(
            f"invalid tag key {key!r}: use letters, digits, '_', ':', '/' or '-' (at most 128)",
            field="tags",
        )
    if len(value) > MAX_TAG_VALUE:
        raise Invalid(f"tag {key!r}: value longer than {MAX_TAG_VALUE} characters", field="tags")


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        check_tag(key, value)
    return dict(tags)


def parse_tag(text: str) -> tuple[str, str]:
    """`key=value` (as given on a command line or in a query) into its parts."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise Invalid(f"invalid tag {text!r}: expected key=value", field="tag")
    check_tag(key, value)
    return key, value


def parse_tags(texts: Iterable[str]) -> dict[str, str]:
    return dict(parse_tag(t) for t in texts)


def check_path(path: str) -> str:
    """A relative POSIX path inside the version: no `..`, no absolute path, no backslash."""
    pure = PurePosixPath(path)
    bad = (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("..", ".", "") for part in path.split("/"))
    )
    if bad or pure.is_absolute():
        raise Invalid(f"invalid file path {path!r}: must be relative, without '..'", field="files")
    return path


def check_manifest(files: Sequence[FileEntry], *, allow_empty: bool = False) -> list[FileEntry]:
    """A non-empty set of distinct relative paths, sorted by path."""
    if not files and not allow_empty:
        raise Invalid("no files: a version needs at least one file (empty folder?)", field="files")
    if len(files) > MAX_FILES:
        raise Invalid(f"too many files: {len(files)} > {MAX_FILES}", field="files")
    seen: set[str] = set()
    for f in files:
        check_path(f.path)
        if f.path in seen:
            raise Invalid(f"file {f.path!r} is listed twice", field="files")
        seen.add(f.path)
    return sorted(files, key=lambda f: f.path)


def content_digest(files: Iterable[FileEntry]) -> str:
    """sha256 over the sorted `path\\0sha256\\n` lines: equal content, equal digest."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\x00{f.sha256}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Selector:
    """Which version: a number, the latest, or the version an alias points at."""

    version: int | None = None
    alias: str | None = None

    @property
    def latest(self) -> bool:
        return self.version is None and self.alias is None

    def __str__(self) -> str:
        if self.version is not None:
            return str(self.version)
        return f"@{self.alias}" if self.alias else LATEST


def parse_selector(text: str) -> Selector:
    """`3`, `latest`, `@champion` (or a bare alias name) as a Selector."""
    text = text.strip()
    if text.isdigit():
        if int(text) < 1:
            raise Invalid(f"invalid version {text!r}: versions start at 1", field="version")
        return Selector(version=int(text))
    if text == LATEST or text == "":
        return Selector()
    return Selector(alias=check_name(text.removeprefix("@"), "alias"))


def parse_ref(text: str) -> tuple[str, Selector]:
    """`name`, `name:3`, `name:latest` or `name@alias` as (name, Selector)."""
    if "@" in text:
        name, _, alias = text.partition("@")
        return check_name(name), parse_selector("@" + alias)
    name, _, version = text.partition(":")
    return check_name(name), parse_selector(version)


def pickle_based(files: Iterable[FileEntry]) -> list[str]:
    """The files whose format loads through pickle (code runs when they are loaded)."""
    return [f.path for f in files if PurePosixPath(f.path).suffix.lower() in PICKLE_SUFFIXES]


def check_trust(files: Iterable[FileEntry], trusted: bool) -> None:
    """Pickle-based files are accepted only when the caller vouches for them."""
    risky = pickle_based(files)
    if risky and not trusted:
        raise Invalid(
            f"pickle-based files {risky[:5]} run code when loaded: register them with "
            "trusted=true (the registry records who vouched for them)",
            field="trusted",
        )


def dataset_format(files: Iterable[FileEntry]) -> str:
    """`csv` or `parquet`: every file of a dataset version has the same format."""
    formats = {DATASET_SUFFIXES.get(PurePosixPath(f.path).suffix.lower()) for f in files}
    if None in formats:
        raise Invalid("a dataset holds only .csv or .parquet files", field="files")
    if len(formats) != 1:
        raise Invalid("a dataset version mixes CSV and Parquet files", field="files")
    return str(formats.pop())


def alias_at(history: Sequence[Mapping[str, Any]], at: datetime) -> int | None:
    """The version an alias pointed at, at a moment, from its append-only history."""
    version: int | None = None
    for entry in sorted(history, key=lambda e: e["set_at"]):
        if entry["set_at"] > at:
            break
        version = int(entry["version"])
    return version


def holds_version(state: str) -> bool:
    """A deployment in any state but Deleted or Failed keeps its model version in use."""
    return state not in INACTIVE_DEPLOYMENT_STATES


def check_property_additions(current: Mapping[str, str], added: Mapping[str, str]) -> None:
    """Properties are add-only: a key keeps its first value forever."""
    for key, value in added.items():
        check_tag(key, value)
        if key in current and current[key] != value:
            raise Invalid(f"property {key!r} is already set to {current[key]!r}: add-only")


def artifact_uri(bucket: str, kind: str, name: str, version: int) -> str:
    """Where the version lives, as the registry serves it: s3://<bucket>/<kind>/<name>/<v>/."""
    return f"s3://{bucket}/{kind}/{name}/{version}/"
