"""The parser behind the figures of docs/benchmarks.md reads bench/README.md as the page expects.

A heading renamed or a column changed in bench/README.md fails here, with the name that is
missing, instead of in the documentation build. No Sphinx needed.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "bench_tables", ROOT / "docs" / "_ext" / "bench_tables.py"
)
bt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bt)

#: (heading, table index, columns the page reads, at least this many rows)
TABLES = [
    (
        "DCTRReweighter vs hep_ml, n = 5×10⁴ per class",
        0,
        ["problem", "method", "median abs(w/w_exact − 1)", "fit [s]"],
        18,
    ),
    (
        "DCTRReweighter vs hep_ml, n = 10⁵ per class",
        0,
        ["problem", "method", "median abs(w/w_exact − 1)", "fit [s]"],
        18,
    ),
    (
        "Small effects on the same events",
        0,
        [
            "method",
            "correlation with the true log-ratio (mean ± std; worst)",
            "std log w (truth 0.0050)",
        ],
        6,
    ),
    (
        "Training overhead, DCTRReweighter.fit vs plain PyTorch",
        0,
        ["batch", "**ours/plain**", "ours/plain (epochs)", "ours fit [s]", "plain fit [s]"],
        2,
    ),
    (
        "Training overhead, DCTRReweighter.fit vs plain PyTorch",
        1,
        ["component", "B = 1024", "B = 4096"],
        3,
    ),
    ("Prediction throughput", 0, ["call", "10⁶ events/s"], 4),
    ("Deployment", 0, ["call", "10⁶ events/s"], 2),
    (
        "ConditionalReweighter: three constructions",
        0,
        ["problem, x' bin", "joint L1", "ratio L1", "marg→cond L1"],
        7,
    ),
    (
        "ConditionalReweighter: three constructions",
        1,
        ["features", "method", "⟨w⟩", "mean of x/x' (1.02)"],
        6,
    ),
    (
        "bench_gaussian_ansatz.py",
        0,
        ["s", "sample", "uncalibrated", "exact ML", "Gaussian Ansatz", "MSE (MLPRegressor)"],
        4,
    ),
    (
        "bench_ot.py",
        0,
        ["n / class", "discrete", "POT `ot.emd` (fitted points)", "neural", "parametric floor"],
        3,
    ),
    (
        "bench_srgn.py",
        0,
        ["weights", "level", "μ (mean ± std)", "σ (mean ± std)", "paper (10⁶, 40 fits)"],
        4,
    ),
    ("bench_srgn.py", 1, ["weights", "level", "μ (mean ± std)", "paper (10⁶, 40 fits)"], 4),
    ("bench_srgn.py", 2, ["strategy", "μ (mean ± std)", "s/fit"], 3),
    ("Scale: bench_scale.py", 0, ["backend", "speed-up"], 4),
    ("Scale: bench_scale.py", 1, ["training", "peak memory [MiB]", "median |w/w_exact − 1|"], 2),
]


@pytest.mark.parametrize(("heading", "index", "columns", "n_rows"), TABLES)
def test_table_has_the_columns_the_page_reads(heading, index, columns, n_rows):
    rows = bt.table(heading, index)
    assert len(rows) >= n_rows
    for name in columns:
        assert name in rows[0], f"{heading!r} table {index}: no column {name!r} in {list(rows[0])}"


def test_the_page_reads_only_headings_and_tables_that_exist():
    """Every table(...) call of the page names a table of the README."""
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    calls = re.findall(r"table\((\w+|\"[^\"]+\")(?:, (\d))?\)", page)
    assert len(calls) >= 10
    used = {(h, int(i or 0)) for h, i in calls if h.startswith('"')}
    listed = {(f'"{h}"', i) for h, i, _, _ in TABLES}
    assert used <= listed, used - listed


def test_prose_numbers_the_page_reads():
    unweight = "bench_unweight.py"
    camel = bt.paragraph(unweight, "Camel back, 10⁶ weighted events")
    assert bt.find(camel, r"\*\*([\d.]+) %\*\* of the events within 3 %") == 85.5
    assert 90 < bt.find(camel, r"exact-sample floor: ([\d.]+) %") <= 100
    assert bt.find(camel, r"first defaults gave ([\d.]+) %") > 0
    assert bt.find(camel, r"and ([\d.]+) % \(100 epochs") > 0
    ring = bt.paragraph(unweight, "Ring, 2×10⁵ events")
    for pattern in (
        r"20 epochs in \d+ s: ([\d.]+) % within",
        r"([\d.]+) % within 3 % \(bulk",
        r"exact-sample floor: ([\d.]+) %",
    ):
        assert 0 < bt.find(ring, pattern) <= 100
    bw = bt.paragraph(unweight, "Breit-Wigner, 10⁵ events")
    for pattern in (
        r"puts ([\d.]+) of its events within Γ",
        r"within Γ of M \(exact ([\d.]+)\)",
        r"half-width ([\d.]+) GeV",
        r"half-width [\d.]+ GeV \(exact ([\d.]+)\)",
    ):
        assert bt.find(bw, pattern) > 0
    mmd = bw.split("weighted MMD")[1]
    assert 0 < bt.find(mmd, r"\) ([\d.]+),") < 1
    assert bt.find(mmd, r", ([\d.]+) GeV") > 1
    srgn = " ".join(bt.section("bench_srgn.py"))
    assert bt.find(srgn, r"\(μ, σ\) = \(([-−\d.]+), ") == -1
    assert bt.find(srgn, r"\(μ, σ\) = \([-−\d.]+, ([\d.]+)\)") == 0.75
    assert bt.find(srgn, r"data at μ = ([\d.]+)") == 1
    goal = " ".join(bt.section("bench_training_overhead.py"))
    assert bt.find(goal, r"Goal: ours/plain ≤ ([\d.]+)") == 1.3
    goal = " ".join(bt.section("bench_predict_throughput.py"))
    assert bt.find(goal, r"Goal: predict_weights ≥ (\S+) events per second") == 1e6
    machine = " ".join(bt.section("Results on this machine"))
    assert bt.find(machine, r"Machine: [^,]*, (\d+) cores") == 2


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("0.989 ± 0.001; 0.988", 0.989),
        ("**1.16**", 1.16),
        ("1.1", 1.1),
        ("85.5 %", 85.5),
        ("5×10⁴", 5e4),
        ("10⁵", 1e5),
        ("1.0×10⁶", 1e6),
        ("2×10⁻⁴", 2e-4),
        ("2.45e+04", 2.45e4),
        ("(0.9897)", 0.9897),
        ("−0.994 ± 0.042", -0.994),
        ("29 s (32)", 29.0),
        ("49,957", 49957.0),
        ("0.498-0.512", 0.498),
        ("`0.105` (0.2 s)", 0.105),
    ],
)
def test_number(cell, value):
    assert bt.number(cell) == pytest.approx(value)


def test_number_without_a_number_is_nan():
    assert math.isnan(bt.number("—"))
    assert math.isnan(bt.number(""))
    assert math.isnan(bt.value_error("—")[0])


def test_value_errors_and_ranges():
    assert bt.value_error("0.989 ± 0.001; 0.988") == (0.989, 0.001)
    assert bt.value_error("1.16") == (1.16, 0.0)
    assert bt.value_errors("−0.997 ± 0.017, 0.747 ± 0.017") == [(-0.997, 0.017), (0.747, 0.017)]
    assert bt.value_errors("1.023 ± 0.027 (without one fit at 1.094: 1.015 ± 0.012)") == [
        (1.023, 0.027),
        (1.015, 0.012),
    ]
    assert bt.numbers("≈ 0.03–0.13 s") == [0.03, 0.13]
    assert bt.numbers("0.498-0.512") == [0.498, 0.512]


def test_cells_keep_escaped_bars_and_a_real_value_round_trips():
    rows = bt.table("Scale: bench_scale.py", 1)
    assert "median |w/w_exact − 1|" in rows[0]
    rows = bt.table("Training overhead, DCTRReweighter.fit vs plain PyTorch")
    assert [bt.number(r["batch"]) for r in rows] == [1024, 4096]
    assert all(1 < bt.number(r["**ours/plain**"]) < 2 for r in rows)


def test_unknown_or_ambiguous_heading_and_missing_table(tmp_path):
    with pytest.raises(KeyError, match="no heading"):
        bt.table("No such benchmark")
    with pytest.raises(KeyError, match="starts 2 headings"):
        bt.table("DCTRReweighter vs hep_ml, n =")
    with pytest.raises(IndexError):
        bt.table("Prediction throughput", 5)
    readme = tmp_path / "README.md"
    readme.write_text(
        "# A\n\n```bash\n# not a heading\n```\n\n## B\n\n| x | y |\n|---|---|\n| 1 | a \\| b |\n"
        "\n### B.1\n\n| z |\n|---|\n| 2 |\n\n## C\n\n| w |\n|---|\n| 3 | 4 |\n",
        encoding="utf-8",
    )
    assert bt.headings(readme) == ["A", "B", "B.1", "C"]
    assert bt.table("B", 0, readme) == [{"x": "1", "y": "a | b"}]
    assert bt.table("B", 1, readme) == [{"z": "2"}]  # a subsection belongs to its section
    with pytest.raises(ValueError, match="2 cells"):
        bt.table("C", 0, readme)
