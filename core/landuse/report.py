"""Presenting probe results: a plain-text table for terminals and an HTML report.

Both read only the metrics dictionary written to ``metrics.json``, so the report
can always be rebuilt from that file and never shows a figure the file lacks.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .figures import confusion_svg, per_class_svg, test_map_svg

METHOD_LABELS = {
    "coords_only": "Coordinates only", "poi_counts": "POI counts (TF-IDF)", "geometry": "Polygon shape",
    "trees": "Boosted trees, no model", "ensemble": "Trees + linear probes, no model",
    "profiles_shape_blend": "Profiles 1/3 + shape 2/3",
}
# A fused method's key joins its parts with "_" ("geometry_calliper_poi_counts"); its label joins theirs with " + ".
PART_LABELS = {
    "geometry": "shape", "coords": "coordinates", "poi_counts": "POI counts", "calliper": "CaLLiPer", "mmgr": "MMGR",
    "pooled": "(pooled)", "ensemble": "Trees + linear probes", "srai_count": "srai Count", "srai_contextual": "srai ContextualCount",
    "srai_hex2vec": "srai Hex2Vec", "srai_geovex": "srai GeoVex",
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


def outputs_method(metrics: dict) -> str:
    """The method the predictions come from: the default, or its twin without the model where the model's blend
    did not count (``headline["outputs_method"]``)."""
    return metrics.get("headline", {}).get("outputs_method", metrics["default_method"])


def _metric_names(metrics: dict) -> list[str]:
    return list(next(iter(metrics["methods"].values())))


def _best(metrics: dict, name: str) -> str:
    """The method with the best mean for metric ``name``."""
    means = {method: scores[name]["mean"] for method, scores in metrics["methods"].items()}
    return (min if name in LOWER_IS_BETTER else max)(means, key=means.get)


def _cell(score: dict) -> str:
    return f"{score['mean']:.3f} ± {score['std']:.3f}"


def metrics_table(metrics: dict) -> str:
    """The methods × metrics table (mean ± std over seeds) as aligned text, then the headline's verdict (whether
    the outputs' method beats the best method without the model) where the metrics have one."""
    names = _metric_names(metrics)
    width = max([22] + [len(method_label(method)) for method in metrics["methods"]])
    header = [f"{'method':{width}s}"] + [f"{METRIC_LABELS.get(n, n):>17s}" for n in names]
    lines = [" ".join(header)]
    for method, scores in metrics["methods"].items():
        cells = [f"{_cell(scores[n]):>17s}" for n in names]
        lines.append(" ".join([f"{method_label(method):{width}s}"] + cells))
    if "headline" in metrics:
        lines.append(f"Outputs: {method_label(outputs_method(metrics))}. {metrics['headline']['verdict']}")
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
    """F1 per class for every method side by side: a shaded grid, then the table with spreads over seeds."""
    per_class = metrics.get("per_class_f1")
    if not per_class:
        return ""
    classes = list(metrics["classes"])
    methods = list(per_class)
    grid = np.array([[per_class[m][name]["mean"] for m in methods] for name in classes])
    header = ["Class", "Units"] + [method_label(m) for m in methods]
    rows = [
        [html.escape(name), str(metrics["classes"][name])] + [_cell(per_class[m][name]) for m in methods]
        for name in classes
    ]
    return ("<h2>F1 per class and method</h2><p>Mean over seeds on the test units; darker is better.</p>"
            + per_class_svg(grid, classes, [method_label(m) for m in methods])
            + "<details><summary>As a table (mean ± std)</summary>" + _table(header, rows) + "</details>")


def _test_map_section(metrics: dict) -> str:
    test_map = metrics.get("test_map")
    if not test_map:
        return ""
    method = method_label(metrics.get("default_method", ""))
    part = np.asarray(test_map["part"])
    right, wrong = int((part == 1).sum()), int((part == 2).sum())
    return (f"<h2>Test units, right and wrong ({html.escape(method)}, seed {test_map['seed']})</h2>"
            f"<p>{right} of {right + wrong} test units right; each unit at its representative point.</p>"
            + test_map_svg(test_map["x"], test_map["y"], part))


def method_label(method: str) -> str:
    """"geometry_calliper_poi_counts" -> "Shape + CaLLiPer + POI counts"; unknown parts keep their words."""
    if method in METHOD_LABELS:
        return METHOD_LABELS[method]
    parts, rest = [], method.replace("+", "_")
    while rest:
        known = next((key for key in sorted(PART_LABELS, key=len, reverse=True)
                      if rest == key or rest.startswith(key + "_")), None)
        word = known or rest.split("_")[0]
        parts.append(PART_LABELS.get(word, word.replace("_", " ")))
        rest = rest[len(word):].lstrip("_")
    text = " + ".join(parts).replace(" + (pooled)", " (pooled)")
    return text if text.startswith("srai") else text[:1].upper() + text[1:]  # srai spells itself in lower case


def _confusion_section(metrics: dict) -> str:
    method = metrics.get("default_method", "calliper")
    matrix = metrics.get("confusion_matrix", {}).get(method)
    if not matrix:
        return ""
    return (
        f"<h2>Confusion matrix ({html.escape(method_label(method))}, the outputs' method; test units summed over "
        "seeds)</h2><p>Rows: true class; columns: predicted class; shade: share of the true class.</p>"
        + confusion_svg(matrix, list(metrics["classes"]))
    )


def margin_table(line: dict, title: str) -> list[str]:
    """Markdown rows of a headline (metrics.json): the default's test macro-F1 per seed minus each rival's,
    as mean, sd, worst seed and the seeds clearing +0.01."""
    per_seed = {name: np.asarray(values) for name, values in line["per_seed_macro_f1"].items()}
    default = per_seed[line["default"]]
    rows = [f"| {title}: {method_label(line['default'])} ({len(default)} seeds) | mean | sd | worst seed | "
            "seeds >= +0.01 |", "|---|---|---|---|---|",
            f"| macro-F1 of the default | {default.mean():.3f} | {default.std():.3f} | {default.min():.3f} | |"]
    for name, values in per_seed.items():
        if name != line["default"]:
            best = ", the best without the model" if name == line["best_without_model"] else ""
            margin = default - values
            rows.append(f"| minus {method_label(name)} ({values.mean():.3f}{best}) | {margin.mean():+.3f} | "
                        f"{margin.std():.3f} | {margin.min():+.3f} | {(margin >= 0.01).sum()} |")
    return rows


def _headline_section(metrics: dict) -> str:
    """The outputs' margin over the best method without the model: the figure that says whether the model counts."""
    line = metrics.get("headline")
    if not line:
        return ""
    outputs = f" The map and predictions use {html.escape(line['outputs'])}." if "outputs" in line else ""
    return (f"<p><b>{html.escape(line['verdict'])}</b> Per seed: sd {line['margin_sd']:.3f}, worst seed "
            f"{line['worst_seed_margin']:+.3f}.{outputs}</p>")


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
    if "shape_features" in protocol and "geometry" in metrics["methods"]:
        facts.append(
            f"Polygon shape: {html.escape(', '.join(protocol['shape_features']))} (metres); fused with the other "
            "features as Shape + …. Pooled: the embedding averaged over random points inside the polygon, and "
            f"beside it over rings of {', '.join(f'{r:g}' for r in protocol['ring_radii_m'])} m around it "
            "(picked on validation)."
        )
    if "headline" in metrics:
        facts.append(
            f"Predictions use <b>{html.escape(method_label(outputs_method(metrics)))}</b>. "
            + html.escape(metrics["headline"].get("design", ""))
            + " Linear probes and trees weigh classes by their rarity (macro-F1 is the measure)."
        )
    elif "default_method" in metrics:
        among = ", ".join(method_label(m) for m in metrics.get("default_candidates", []))
        facts.append(
            f"Predictions use <b>{html.escape(method_label(metrics['default_method']))}</b>, the method with the "
            f"best mean validation score{' among ' + html.escape(among) if among else ''} (validation blocks only; "
            "test scores never choose)."
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
{_headline_section(metrics)}
<ul>{''.join(f'<li>{fact}</li>' for fact in facts)}</ul>
<h2>Scores (best in bold)</h2>
{_scores_section(metrics)}
{_confusion_section(metrics)}
{_per_class_section(metrics)}
{_test_map_section(metrics)}
{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}
</body></html>
"""


def write_report(metrics: dict, path: str | Path) -> Path:
    """Write the HTML report for ``metrics`` atomically."""
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(report_html(metrics), encoding="utf-8")
    return path
