"""Presenting probe results: a plain-text table for terminals and an HTML report.

Both read only the metrics dictionary written to ``metrics.json``, so the report
can always be rebuilt from that file and never shows a figure the file lacks.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..atomic import atomic_path

METHOD_LABELS = {
    "calliper": "CaLLiPer", "coords_only": "Coordinates only", "poi_counts": "POI counts (TF-IDF)",
    "calliper_poi_counts": "CaLLiPer + POI counts", "mmgr": "MMGR", "mmgr_poi_counts": "MMGR + POI counts",
}
METRIC_LABELS = {
    "accuracy": "Accuracy", "macro_precision": "Macro precision", "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "l1": "L1", "chebyshev": "Chebyshev", "kl": "KL divergence", "r2": "R²", "rmse": "RMSE", "mae": "MAE",
}
LOWER_IS_BETTER = {"l1", "chebyshev", "kl", "rmse", "mae"}
TASK_TITLES = {
    "class": "Land-use classification", "distribution": "Distribution prediction", "value": "Value prediction",
}


def _metric_names(metrics: dict) -> list[str]:
    return list(next(iter(metrics["methods"].values())))


def _best(metrics: dict, name: str) -> str:
    """The method with the best mean for metric ``name``."""
    means = {method: scores[name]["mean"] for method, scores in metrics["methods"].items()}
    return (min if name in LOWER_IS_BETTER else max)(means, key=means.get)


def _cell(score: dict) -> str:
    return f"{score['mean']:.3f} ± {score['std']:.3f}"


def metrics_table(metrics: dict) -> str:
    """The methods × metrics table (mean ± std over seeds) as aligned text."""
    names = _metric_names(metrics)
    header = [f"{'method':22s}"] + [f"{METRIC_LABELS.get(n, n):>17s}" for n in names]
    lines = [" ".join(header)]
    for method, scores in metrics["methods"].items():
        cells = [f"{_cell(scores[n]):>17s}" for n in names]
        lines.append(" ".join([f"{method_label(method):22s}"] + cells))
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _scores_section(metrics: dict) -> str:
    names = _metric_names(metrics)
    best = {name: _best(metrics, name) for name in names}
    rows = []
    for method, scores in metrics["methods"].items():
        cells = [f"<b>{_cell(scores[n])}</b>" if best[n] == method else _cell(scores[n]) for n in names]
        rows.append([html.escape(method_label(method))] + cells)
    return _table(["Method"] + [METRIC_LABELS.get(n, n) for n in names], rows)


def _per_class_section(metrics: dict) -> str:
    per_class = metrics.get("per_class_f1")
    if not per_class:
        return ""
    classes = list(metrics["classes"])
    header = ["Class", "Units"] + [method_label(m) for m in per_class]
    rows = [
        [html.escape(name), str(metrics["classes"][name])] + [_cell(per_class[m][name]) for m in per_class]
        for name in classes
    ]
    return "<h2>F1 per class</h2>" + _table(header, rows)


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " "))


def _confusion_section(metrics: dict) -> str:
    method = metrics.get("default_method", "calliper")
    matrix = metrics.get("confusion_matrix", {}).get(method)
    if not matrix:
        return ""
    classes = [html.escape(name) for name in metrics["classes"]]
    rows = [[f"<b>{name}</b>"] + [str(v) for v in row] for name, row in zip(classes, matrix)]
    return (
        f"<h2>Confusion matrix ({method_label(method)}, the outputs' method; test units summed over seeds)</h2>"
        "<p>Rows: true class; columns: predicted class.</p>" + _table(["true \\ predicted"] + classes, rows)
    )


def report_html(metrics: dict) -> str:
    """A self-contained HTML page for ``metrics`` (as written to metrics.json)."""
    protocol = metrics["protocol"]
    title = TASK_TITLES.get(metrics["task"], "Probe results")
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in metrics.get("notes", []))
    facts = [
        f"Labels: {html.escape(str(metrics['labels']))} ({metrics['n_units']} labelled units), "
        f"target: {html.escape(', '.join(metrics['fields']))}.",
        f"Model: {html.escape(str(metrics['model']))}.",
        f"Split: <b>{html.escape(protocol['split_description'])}</b>; {protocol['test_fraction']:.0%} of units "
        f"to test, {protocol['val_fraction']:.0%} of the rest to validation.",
        f"Probe: {html.escape(protocol['probe'])}, seeds {', '.join(map(str, protocol['seeds']))}; "
        "scores are mean ± standard deviation over seeds on the test units.",
        "Baselines: coordinates only (the same probe on x, y); POI counts within a radius, TF-IDF weighted "
        f"(POIs from {html.escape(str(protocol['pois']))}; radius picked on validation per seed among "
        f"{', '.join(f'{r:g}' for r in protocol['poi_radii_m'])} m, chosen: "
        f"{', '.join(metrics.get('chosen', {}).get('poi_counts', []))}).",
    ]
    if "default_method" in metrics:
        facts.append(
            f"Predictions and the class raster use <b>{html.escape(method_label(metrics['default_method']))}</b>, "
            "the method with the best mean validation score (validation blocks only; test scores never choose)."
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Calliper: {title}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
thead {{ background: #eee; }}
</style></head><body>
<h1>Calliper: {title}</h1>
<ul>{''.join(f'<li>{fact}</li>' for fact in facts)}</ul>
<h2>Scores (best in bold)</h2>
{_scores_section(metrics)}
{_per_class_section(metrics)}
{_confusion_section(metrics)}
{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
</body></html>
"""


def write_report(metrics: dict, path: str | Path) -> Path:
    """Write the HTML report for ``metrics`` atomically."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(report_html(metrics), encoding="utf-8")
    return path
