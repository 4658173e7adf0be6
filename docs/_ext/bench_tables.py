"""Reads the result tables of ``bench/README.md`` for the plots of the benchmark page.

``bench/README.md`` is the one place where the benchmarks' numbers are written down; the page
``docs/benchmarks.md`` draws its figures from it when the documentation is built, so that the two
cannot disagree. A section is found by its heading (the text after the ``#`` marks, backticks
removed: the whole heading or a prefix that only one heading starts with) and runs to the next
heading of the same or a higher level; its tables are counted from 0 in the order they appear.

>>> rows = table("Training overhead, DCTRReweighter.fit vs plain PyTorch")  # doctest: +SKIP
>>> number(rows[0]["**ours/plain**"])  # doctest: +SKIP
1.16

The number parsers read the cells as the README writes them: ``"0.989 ± 0.001; 0.988"``,
``"**1.16**"``, ``"5×10⁴"``, ``"85.5 %"``, ``"−0.994 ± 0.042"``, ``"29 s (32)"``, ``"49,957"``,
``"—"`` (no number: NaN).

Used as a Sphinx extension (``"bench_tables"`` in ``extensions``), it also makes the benchmark
page depend on ``bench/README.md``: the page is read again, and its figures drawn again, when
the README changes.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx

#: The file the numbers come from.
README = Path(__file__).resolve().parents[2] / "bench" / "README.md"
#: The page that plots them (its Sphinx docname).
PAGE = "benchmarks"

_RULE = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_MANTISSA = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
#: A number: an optional sign (not right after a digit: "0.49-0.51" is a range), then
#: "m×10ⁿ", "10ⁿ" or a plain decimal (with thousands commas or an exponent).
_NUMBER = re.compile(
    rf"(?<![\d.])(?P<sign>[-−+]?)"
    rf"(?:(?:(?P<mant>{_MANTISSA})\s*[×x]\s*)?(?P<pow>10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)|(?P<plain>{_MANTISSA}))"
)
_PLUS_MINUS = re.compile(r"([^\s±(]+)\s*±\s*([^\s±;,)]+)")


# -- sections and tables ---------------------------------------------------------------------


def _lines(path: str) -> tuple[str, ...]:
    # keyed by the modification time too: a long-running build sees an edited README
    return _read(path, Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> tuple[str, ...]:  # mtime_ns: the cache's key only
    return tuple(Path(path).read_text(encoding="utf-8").splitlines())


def _clean_heading(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def headings(path: Path | str = README) -> list[str]:
    """Every heading of the file, without its ``#`` marks and backticks, in order."""
    return [title for _, title, _ in _headings(_lines(str(path)))]


def _headings(lines: tuple[str, ...]) -> list[tuple[int, str, int]]:
    """(level, cleaned title, line number) of each heading outside fenced code."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), _clean_heading(match.group(2)), i))
    return found


def section(heading: str, path: Path | str = README) -> list[str]:
    """The lines of the section under ``heading`` (the heading itself left out).

    ``heading`` is the whole heading or a prefix of it (backticks and ``#`` marks do not count);
    a prefix that more than one heading starts with is an error, as is one that none does.
    """
    lines = _lines(str(path))
    found = _headings(lines)
    want = _clean_heading(heading)
    matches = [h for h in found if h[1] == want] or [h for h in found if h[1].startswith(want)]
    if not matches:
        raise KeyError(
            f"no heading {heading!r} in {path}; the headings are:\n  "
            + "\n  ".join(title for _, title, _ in found)
        )
    if len(matches) > 1:
        raise KeyError(
            f"{heading!r} starts {len(matches)} headings of {path}: "
            + "; ".join(title for _, title, _ in matches)
        )
    level, _, start = matches[0]
    end = next((i for lev, _, i in found if i > start and lev <= level), len(lines))
    return list(lines[start + 1 : end])


def _cells(line: str) -> list[str]:
    """The cells of a table row; ``\\|`` is a literal bar inside a cell."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def tables(heading: str, path: Path | str = README) -> list[list[dict[str, str]]]:
    """Every markdown table of a section, each as a list of rows ``{column header: cell}``."""
    found: list[list[dict[str, str]]] = []
    lines = section(heading, path)
    i = 0
    while i < len(lines):
        is_rule = i + 1 < len(lines) and _RULE.fullmatch(lines[i + 1])
        if lines[i].lstrip().startswith("|") and is_rule:
            header = _cells(lines[i])
            rows, i = [], i + 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _cells(lines[i])
                if len(cells) != len(header):
                    raise ValueError(
                        f"{path}, section {heading!r}: a row has {len(cells)} cells, its table "
                        f"{len(header)} columns: {lines[i]!r}"
                    )
                rows.append(dict(zip(header, cells, strict=True)))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def table(heading: str, index: int = 0, path: Path | str = README) -> list[dict[str, str]]:
    """The ``index``-th table (from 0) of the section under ``heading``, as rows of cells.

    Each row is a dict from the column's header, as written (``"**ours/plain**"``), to the cell's
    text, stripped, with ``\\|`` turned into ``|``.
    """
    found = tables(heading, path)
    if index >= len(found):
        raise IndexError(f"section {heading!r} of {path} has {len(found)} tables, not {index + 1}")
    return found[index]


def column(rows: list[dict[str, str]], start: str) -> str:
    """The one column header of ``rows`` that starts with ``start`` (markup ignored)."""
    names = [name for name in rows[0] if _strip(name).startswith(start)]
    if len(names) != 1:
        raise KeyError(f"{len(names)} columns start with {start!r}: {list(rows[0])}")
    return names[0]


def paragraph(heading: str, start: str, path: Path | str = README) -> str:
    """The paragraph or list item of a section that begins with ``start``, on one line."""
    lines = section(heading, path)
    for i, line in enumerate(lines):
        text = line.lstrip()
        if text.removeprefix("- ").startswith(start):
            block = [text]
            for more in lines[i + 1 :]:
                if not more.strip() or more.lstrip().startswith(("- ", "|", "#")):
                    break
                block.append(more.strip())
            return " ".join(block)
    raise KeyError(f"no paragraph starting {start!r} in section {heading!r} of {path}")


def find(text: str, pattern: str) -> float:
    """The number in the first group of the first match of ``pattern`` in ``text``."""
    match = re.search(pattern, text)
    if match is None:
        raise KeyError(f"{pattern!r} not found in {text[:80]!r}...")
    return number(match.group(1))


# -- numbers ---------------------------------------------------------------------------------


def _strip(cell: str) -> str:
    return cell.replace("**", "").replace("`", "").strip()


def _value(match: re.Match) -> float:
    sign = -1.0 if match.group("sign") in ("-", "−") else 1.0
    if match.group("pow") is not None:
        power = 10.0 ** int(match.group("pow")[2:].translate(_SUPERSCRIPT))
        mant = match.group("mant")
        return sign * (float(mant.replace(",", "")) if mant else 1.0) * power
    return sign * float(match.group("plain").replace(",", ""))


def numbers(cell: str) -> list[float]:
    """Every number in a cell, in order (``"0.965–1.035"`` gives both ends)."""
    return [_value(m) for m in _NUMBER.finditer(_strip(cell))]


def number(cell: str) -> float:
    """The first number of a cell; NaN when it has none (``"—"``, ``""``).

    Markup (``**``, backticks), units and whatever follows the number are ignored:
    ``"**1.16**"`` → 1.16, ``"85.5 %"`` → 85.5, ``"5×10⁴"`` → 50000, ``"29 s (32)"`` → 29,
    ``"(0.9897)"`` → 0.9897.
    """
    match = _NUMBER.search(_strip(cell))
    return _value(match) if match else math.nan


def value_error(cell: str) -> tuple[float, float]:
    """The first ``value ± error`` of a cell: ``"0.989 ± 0.001; 0.988"`` → (0.989, 0.001).

    A cell without ``±`` gives its first number and an error of 0 (NaN, NaN when empty).
    """
    pairs = value_errors(cell)
    if pairs:
        return pairs[0]
    value = number(cell)
    return value, (math.nan if math.isnan(value) else 0.0)


def value_errors(cell: str) -> list[tuple[float, float]]:
    """Every ``value ± error`` of a cell: ``"−0.997 ± 0.017, 0.747 ± 0.017"`` gives two."""
    return [
        (number(match.group(1)), number(match.group(2)))
        for match in _PLUS_MINUS.finditer(_strip(cell))
    ]


# -- Sphinx ----------------------------------------------------------------------------------


def _note_readme(app: Sphinx, docname: str, source: list[str]) -> None:
    """Makes the page depend on the README and drops its figures when the README is newer."""
    if docname != PAGE:
        return
    app.env.note_dependency(str(README))
    # The plot directive redraws a figure only when the page's own file is newer than it.
    figures = Path(app.doctreedir).parent / "plot_directive"
    readme_time = README.stat().st_mtime
    for png in figures.glob(f"{PAGE}-*"):
        if png.stat().st_mtime < readme_time:
            png.unlink()


def setup(app: Sphinx) -> dict[str, object]:
    """Sphinx entry point: the benchmark page is rebuilt when ``bench/README.md`` changes."""
    app.connect("source-read", _note_readme)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
