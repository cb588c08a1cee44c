"""The run rules: transitions, metrics lines, parameters, output paths."""

import pytest

from modelops_contracts.types import RunState
from modelops_jobs import domain
from modelops_jobs.api_models import as_strings
from modelops_servicekit.errors import Invalid


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RunState.QUEUED, RunState.RUNNING),
        (RunState.QUEUED, RunState.CANCELLED),
        (RunState.QUEUED, RunState.FAILED),
        (RunState.RUNNING, RunState.COMPLETED),
        (RunState.RUNNING, RunState.FAILED),
        (RunState.RUNNING, RunState.CANCELLED),
    ],
)
def test_allowed_transitions(current: RunState, target: RunState) -> None:
    domain.check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RunState.QUEUED, RunState.COMPLETED),
        (RunState.COMPLETED, RunState.FAILED),
        (RunState.FAILED, RunState.RUNNING),
        (RunState.CANCELLED, RunState.RUNNING),
        (RunState.RUNNING, RunState.QUEUED),
    ],
)
def test_ended_runs_and_skips_are_refused(current: RunState, target: RunState) -> None:
    with pytest.raises(domain.IllegalTransition):
        domain.check_transition(current, target)


def test_metrics_lines_are_parsed_and_bad_ones_counted() -> None:
    lines = [
        '{"name": "loss", "value": 0.9, "step": 0}',
        '{"name": "loss", "value": 0.5, "step": 1}',
        "",
        '{"name": "auc", "value": "0.8"}',
        "not json",
        '{"name": "x", "value": NaN}',
        '{"name": "", "value": 1}',
        '{"name": "y", "value": 1, "step": "a"}',
        '{"value": 1}',
        "[1, 2]",
    ]
    points, rejected = domain.parse_metrics(lines)
    assert points == [
        domain.Metric("loss", 0.9, 0),
        domain.Metric("loss", 0.5, 1),
        domain.Metric("auc", 0.8, None),
    ]
    assert rejected == 6
    assert domain.latest_values(points) == {"loss": 0.5, "auc": 0.8}


def test_metric_points_beyond_the_cap_are_rejected() -> None:
    lines = ['{"name": "m", "value": 1}'] * (domain.MAX_METRICS + 3)
    points, rejected = domain.parse_metrics(lines)
    assert (len(points), rejected) == (domain.MAX_METRICS, 3)


def test_parameters_become_env_vars_and_optional_args() -> None:
    params = as_strings({"learning-rate": 0.1, "epochs": 3, "shuffle": True})
    assert domain.parameter_env(params) == {
        "MODELOPS_PARAM_LEARNING_RATE": "0.1",
        "MODELOPS_PARAM_EPOCHS": "3",
        "MODELOPS_PARAM_SHUFFLE": "true",
    }
    argv = domain.command_line(["python", "train.py"], params, True, "/venv/bin/python")
    assert argv == [
        "/venv/bin/python",
        "train.py",
        "--epochs",
        "3",
        "--learning-rate",
        "0.1",
        "--shuffle",
        "true",
    ]
    assert domain.command_line(["bash", "x.sh"], params, False, "/p") == ["bash", "x.sh"]


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../b"])
def test_outputs_stay_inside_the_output_folder(path: str) -> None:
    with pytest.raises(Invalid):
        domain.output_path(path)


def test_output_paths_are_normalised() -> None:
    assert domain.output_path("models/./m.onnx") == "models/m.onnx"


def test_failure_reasons_and_log_tail() -> None:
    assert domain.failure_reason(3, False, 10) == "the command exited with code 3"
    assert domain.failure_reason(None, True, 1.5) == "timed out after 1.5 s"
    assert domain.tail("abcdef", 3) == "def"
    assert domain.tail("ab", 3) == "ab"
