"""A run's JSON result and its HTML summary page (per-feature table, links to Evidently's)."""

import html
import math
from dataclasses import asdict
from typing import Any

from modelops_drift_monitor.drift import DriftResult


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def result_json(
    result: DriftResult, performance: dict[str, float], quality: list[str]
) -> dict[str, Any]:
    """Everything a run measured, JSON-ready (NaN -> null)."""
    features = []
    for f in result.features:
        d = asdict(f)
        d["score"], d["threshold"] = _num(f.score), _num(f.threshold)
        features.append(d)
    return {
        "dataset_drift": result.dataset_drift,
        "drift_share": result.share_drifted,
        "drift_share_threshold": result.drift_share,
        "drifted_features": result.drifted_features,
        "rows": result.rows,
        "sample_size": result.sample_size,
        "seed": result.seed,
        "seconds": result.seconds,
        "features": features,
        "skipped": result.skipped,
        "quality_breaches": quality,
        "performance": performance,
    }


def _row(f: dict[str, Any]) -> str:
    q = f.get("quality") or {}
    cells = [
        f["feature"],
        f["kind"],
        f["test"],
        f"{f['score']:.4g}" if f["score"] is not None else "-",
        f"{f['threshold']:.4g}" if f["threshold"] is not None else "-",
        "DRIFT" if f["drifted"] else "ok",
        f"{q.get('null_share', 0):.3f}",
        f"{q.get('out_of_range_share', 0):.3f}",
        f.get("error") or "",
    ]
    style = ' style="background:#fdd"' if f["drifted"] else ""
    return f"<tr{style}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def render_html(title: str, result: dict[str, Any], evidently_href: str | None) -> str:
    """A self-contained HTML page summarising a run."""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "feature",
            "type",
            "test",
            "score",
            "threshold",
            "verdict",
            "null share",
            "out of range",
            "error",
        )
    )
    rows = "".join(_row(f) for f in result["features"])
    perf = "".join(f"<li>{html.escape(k)}: {v:.4f}</li>" for k, v in result["performance"].items())
    link = (
        f'<p><a href="{html.escape(evidently_href)}">Evidently report (sampled)</a></p>'
        if evidently_href
        else ""
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>dataset drift: <b>{result['dataset_drift']}</b>, "
        f"share of drifted features {result['drift_share']:.2f} "
        f"(threshold {result['drift_share_threshold']}); "
        f"rows {result['rows']}, sample {result['sample_size']} (seed {result['seed']})</p>{link}"
        f"<table border='1' cellspacing='0'><tr>{head}</tr>{rows}</table>"
        f"<h2>Performance</h2><ul>{perf or '<li>no labelled rows</li>'}</ul></body></html>"
    )
