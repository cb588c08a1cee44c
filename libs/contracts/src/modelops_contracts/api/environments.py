"""The builder's environment API: a Python environment (pip requirements on a base image) built
once per digest, which other services run code in (the jobs' container runs)."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PIP_REQUIREMENT_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9_.\-\[\],]* *(==|>=|<=|~=|!=|<|>)? *[A-Za-z0-9_.*+!\-,<>=]*$"
)
"""A plain pip requirement (`name[extra]` and version specifiers): no URLs, paths, markers or
pip options, so a requirements file made of them cannot do more than name packages."""

PipRequirement = Annotated[
    str, StringConstraints(pattern=PIP_REQUIREMENT_PATTERN, min_length=1, max_length=200)
]
"""One plain pip requirement, e.g. `scikit-learn==1.9.1` or `six>=1.16`."""

ImageReference = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
]
"""A container image reference (`repo/name:tag` or `...@sha256:...`), nothing else."""

PYTHON_VERSION = "3.11"
"""The Python of the base images."""


def normalized_requirements(requirements: list[str] | tuple[str, ...]) -> list[str]:
    """Requirements as an environment's digest sees them: no spaces, lower case, sorted."""
    return sorted(r.replace(" ", "").lower() for r in requirements)


class BuildEnvironment(BaseModel):
    """`POST /v1/environments`: build (or reuse, by digest) an environment image; the answer is
    its build log as text lines, the last one a JSON object `{"image", "env_digest"}` (or
    `{"error"}` when the build failed)."""

    model_config = ConfigDict(extra="forbid")

    requirements: list[PipRequirement] = Field(default_factory=list)
    python_version: str = PYTHON_VERSION
    base_image: ImageReference | None = Field(
        default=None, description="the builder's default when unset"
    )
