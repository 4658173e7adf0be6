"""The report's tables as Markdown and as a self-contained HTML page."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

# Significant digits of the numbers in the tables (metrics.json keeps full precision).
DIGITS = 4

# Markdown characters escaped in text taken from the user (feature names).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")

_TITLE = "Reweighting report"

_INTRODUCTION = (
    "The reweighted source carries source_weight × weights; the weight statistics are of these "
    "final event weights. The closure compares the source with the target before and after "
    "reweighting: the KS distance per feature (0: identical distributions) and the held-out "
    "AUC of a classifier trained to separate the two samples (0.5: indistinguishable)."
)

# Minimal styling of the HTML page, inline so that the page needs no other file but its plots.
_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:.3em .7em;text-align:left}"
    "th{background:#eee}img{max-width:100%;display:block;margin:1em 0}"
)


def _number(value: float) -> str:
    return f"{value:.{DIGITS}g}"


def _percent(value: float) -> str:
    return f"{100 * value:.{DIGITS - 1}g} %"


def summary_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(quantity, value) rows of the summary table, as plain text."""
    q = metrics["weight_quantiles"]
    rows = [
        ("events (source / target)", f"{metrics['n_source']} / {metrics['n_target']}"),
        (
            "effective sample size (fraction of the source)",
            f"{_number(metrics['ess'])} ({_percent(metrics['ess_fraction'])})",
        ),
        (
            "weight quantiles 0.1 % / 1 % / 50 % / 99 % / 99.9 %",
            " / ".join(_number(q[key]) for key in ("0.001", "0.01", "0.5", "0.99", "0.999")),
        ),
        ("largest weight", _number(metrics["weight_max"])),
        (
            "share of the total |weight| in the largest 1 % of weights",
            _percent(metrics["top1pct_weight_share"]),
        ),
        ("negative weights", str(metrics["n_negative"])),
        ("clipped weights", str(metrics.get("n_clipped", "not given"))),
    ]
    if "n_outside_training_range" in metrics:
        n, f = metrics["n_outside_training_range"], metrics["outside_training_range_fraction"]
        rows.append(
            (
                "events outside the training range (source / target)",
                f"{n['source']} ({_percent(f['source'])}) / {n['target']} "
                f"({_percent(f['target'])})",
            )
        )
        expected = metrics.get("outside_training_range_expected")
        if expected is not None:
            rows.append(
                (
                    "events a sample of the training distribution puts there on average",
                    f"{_number(expected['source'])} / {_number(expected['target'])}",
                )
            )
    else:
        rows.append(("events outside the training range", "not checked (no training range)"))
    rows.append(
        (
            "two-sample AUC before / after (0.5: indistinguishable)",
            f"{_number(metrics['auc_before'])} / {_number(metrics['auc_after'])}",
        )
    )
    if "auc_null_std" in metrics:
        rows.append(
            (
                "spread of that AUC between two samples of one distribution",
                _number(metrics["auc_null_std"]),
            )
        )
    return rows


def ks_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(feature, KS before, KS after) rows, as plain text."""
    return [
        (name, _number(before), _number(metrics["ks_after"][name]))
        for name, before in metrics["ks_before"].items()
    ]


def _md(text: str) -> str:
    """Text escaped for Markdown (a table cell included)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def report_markdown(
    metrics: dict[str, Any], plots: list[tuple[str, str, str]], note: str | None
) -> str:
    """The report as Markdown; ``plots`` holds (title, key, relative path) of linked images."""
    lines = [f"# {_TITLE}", "", _md(_INTRODUCTION), ""]
    if metrics.get("warnings"):
        lines += ["## Warnings", ""] + [f"- {_md(text)}" for text in metrics["warnings"]] + [""]
    lines += ["## Summary", ""]
    lines += _md_table(("quantity", "value"), summary_rows(metrics))
    lines += ["", "## KS distance per feature", ""]
    lines += _md_table(("feature", "before", "after"), ks_rows(metrics))
    if plots:
        lines += ["", "## Plots", ""]
        for title, _, path in plots:
            lines += [f"![{_md(title)}]({quote(path)})", ""]
        lines.pop()
    if note:
        lines += ["", _md(note)]
    return "\n".join(lines) + "\n"


def _html_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        lines.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    lines.append("</table>")
    return lines


def report_html(
    metrics: dict[str, Any], plots: list[tuple[str, str, str]], note: str | None
) -> str:
    """The report as one HTML page with inline style; the plots in ``plots`` are linked."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_TITLE}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_TITLE}</h1>",
        f"<p>{html.escape(_INTRODUCTION)}</p>",
    ]
    if metrics.get("warnings"):
        lines += ["<h2>Warnings</h2>", "<ul>"]
        lines += [f"<li>{html.escape(text)}</li>" for text in metrics["warnings"]]
        lines.append("</ul>")
    lines.append("<h2>Summary</h2>")
    lines += _html_table(("quantity", "value"), summary_rows(metrics))
    lines.append("<h2>KS distance per feature</h2>")
    lines += _html_table(("feature", "before", "after"), ks_rows(metrics))
    if plots:
        lines.append("<h2>Plots</h2>")
        for title, _, path in plots:
            lines.append(f'<img src="{html.escape(quote(path))}" alt="{html.escape(title)}">')
    if note:
        lines.append(f"<p>{html.escape(note)}</p>")
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"
