"""The runner and helpers shared by the benchmark scripts: options, sizes, sections, threads,
devices, timing and result files.

Not a benchmark itself. The scripts in this folder import it by name (``python bench/NAME.py``
puts ``bench/`` on ``sys.path``), so each of them still runs on its own.

A script keeps only its measurements. It hands :func:`run` its sections (functions of a
:class:`Run` that return their results and a markdown table), its size options (:class:`Size`:
the value at ``--quick``, by default and at ``--full``) and its own options, and ``run`` does the
rest: the command line, the thread limit, the device, the timing of every section, the printed
markdown and the JSON and markdown files. Every script therefore takes the same options:

* ``--quick`` | (nothing) | ``--full``: the size of the run. ``--quick`` is a smoke test of a
  few seconds whose numbers mean nothing; the default is the size whose numbers
  ``bench/README.md`` reports; ``--full`` the larger, paper-size run. Each :class:`Size` option
  given on the command line overrides its value.
* ``--sections a,b``: the sections to run, in the script's order (default: all).
* ``--device``, ``--random-state``, ``--threads``, ``--output-dir``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Size:
    """A size option ``--name`` whose value follows the size of the run unless given.

    ``quick``, ``default`` and ``full`` are its values with ``--quick``, without a size option
    and with ``--full``. ``None`` stands for "the estimator's own default". ``type`` converts
    the command-line text (``int`` unless given); ``nargs="+"`` takes a list. Numbers must be
    positive.
    """

    help: str
    quick: Any
    default: Any
    full: Any
    type: Callable[[str], Any] = int
    nargs: str | None = None


@dataclass
class Run:
    """What a section gets: the options, the size of the run, the device and the machine.

    ``state`` is shared by the sections of one run (for example the models that one section
    trains and a later one times).
    """

    args: argparse.Namespace
    size: str
    device: str
    info: dict
    state: dict = field(default_factory=dict)


# A section: a function of the run returning its results (JSON-ready) and its markdown.
Section = Callable[[Run], tuple[dict, str]]


def run(
    description: str,
    sections: Mapping[str, Section],
    argv: Sequence[str] | None = None,
    *,
    name: str | Callable[[argparse.Namespace], str],
    title: str | Callable[[argparse.Namespace], str],
    sizes: Mapping[str, Size] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    check_arguments: Callable[[argparse.Namespace, argparse.ArgumentParser], None] | None = None,
    before: Callable[[Run], None] | None = None,
    notes: Callable[[Run], str] | None = None,
    constants: Mapping[str, Any] | None = None,
    threads: int = 2,
) -> int:
    """Parse the command line, run the chosen sections in order, print and write the results.

    Parameters
    ----------
    description : str
        First paragraph of the ``--help`` text.
    sections : mapping of name to section
        The script's sections in the order they run; each is called with the :class:`Run` and
        returns ``(results, markdown)``.
    argv : sequence of str, default=None
        The command line (``sys.argv[1:]`` if None).
    name : str or callable of the parsed options
        Stem of the result files; ``_quick`` or ``_full`` and the sections, when not all of
        them run, are appended.
    title : str or callable of the parsed options
        Heading of the markdown.
    sizes : mapping of option name to :class:`Size`, default=None
        The size options (``n_events`` becomes ``--n-events``).
    add_arguments : callable, default=None
        Registers the script's own options on the parser.
    check_arguments : callable, default=None
        Checks the parsed options (after the sizes are resolved); calls ``parser.error``.
    before : callable, default=None
        Runs once before the first section, after the threads are limited (warm-ups, imports
        of optional packages); counted in the total time, not in any section's.
    notes : callable, default=None
        Markdown written after the sections' tables (the definitions of their columns).
    constants : mapping, default=None
        The script's fixed settings, recorded in the JSON.
    threads : int, default=2
        Default of ``--threads``.

    Returns
    -------
    int
        The exit status, 0.
    """
    args = _parse_arguments(
        description,
        tuple(sections),
        argv,
        dict(sizes or {}),
        add_arguments,
        check_arguments,
        threads,
    )
    device = resolve_device(args.device)
    limiter = limit_threads(args.threads)  # noqa: F841 (kept alive for the whole run)
    context = Run(args=args, size=args.size, device=device, info=machine_info(device))
    start = time.perf_counter()
    if before is not None:
        before(context)
    payload: dict = {
        "benchmark": name if isinstance(name, str) else name(args),
        "size": args.size,
        "sections": args.sections,
        "options": {k: v for k, v in vars(args).items() if k not in ("size", "sections")},
        "constants": dict(constants or {}),
    }
    heading = title if isinstance(title, str) else title(args)
    heading += "" if args.size == "default" else f" (--{args.size})"
    tables = [f"# {heading}", f"Machine: {machine_line(context.info)}."]
    for section in args.sections:
        section_start = time.perf_counter()
        result, markdown = sections[section](context)
        seconds = time.perf_counter() - section_start
        payload[section] = {**result, "section_s": seconds}
        tables.append(markdown)
        print(f"section {section}: {seconds:.1f} s", flush=True)
    if notes is not None:
        tables.append(notes(context))
    total_s = time.perf_counter() - start
    times = ", ".join(f"{s} {payload[s]['section_s']:.0f} s" for s in args.sections)
    tables.append(f"Run time: {total_s:.0f} s ({times}).")
    write_results(
        args.output_dir,
        _result_name(payload["benchmark"], args, tuple(sections)),
        payload,
        "\n\n".join(tables),
        args=args,
        info=context.info,
        total_s=total_s,
        command=[Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)],
    )
    return 0


def _parse_arguments(
    description, sections, argv, sizes, add_arguments, check_arguments, threads
) -> argparse.Namespace:
    """The parsed command line of :func:`run`, every size option resolved and checked."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        dest="size",
        action="store_const",
        const="quick",
        default="default",
        help="tiny sizes: a smoke test of seconds whose numbers mean nothing",
    )
    size.add_argument(
        "--full",
        dest="size",
        action="store_const",
        const="full",
        help="the larger, paper-size run",
    )
    parser.add_argument(
        "--sections",
        type=_section_list(sections),
        default=list(sections),
        help=f"comma list of {','.join(sections)} (default: all, in this order)",
    )
    for key, spec in sizes.items():
        parser.add_argument(
            "--" + key.replace("_", "-"),
            type=spec.type,
            nargs=spec.nargs,
            default=None,
            help=f"{spec.help} (--quick: {_show(spec.quick)}; default: {_show(spec.default)}; "
            f"--full: {_show(spec.full)})",
        )
    if add_arguments is not None:
        add_arguments(parser)
    add_common_arguments(parser, threads=threads)
    args = parser.parse_args(argv)
    for key, spec in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, getattr(spec, args.size))
        if not _all_positive(getattr(args, key)):
            parser.error(f"--{key.replace('_', '-')} must be positive")
    if check_arguments is not None:
        check_arguments(args, parser)
    return args


def _section_list(known: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [s.strip() for s in text.split(",") if s.strip()]
        unknown = [s for s in names if s not in known]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown section {', '.join(map(repr, unknown))}; choose from {', '.join(known)}"
            )
        if not names:
            raise argparse.ArgumentTypeError(f"no section given; choose from {', '.join(known)}")
        return [s for s in known if s in names]

    return parse


def _show(value) -> str:
    """A size value as it is typed on the command line."""
    if value is None:
        return "the estimator's default"
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _all_positive(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_all_positive(v) for v in value)
    return not isinstance(value, (int, float)) or value > 0


def _result_name(stem: str, args: argparse.Namespace, known: tuple[str, ...]) -> str:
    name = stem if args.size == "default" else f"{stem}_{args.size}"
    if list(args.sections) != list(known):
        name += "_" + "_".join(args.sections)
    return name


def add_common_arguments(parser: argparse.ArgumentParser, *, threads: int | None = 2) -> None:
    """The options every benchmark takes: device, seed, threads, output folder."""
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="where the networks train and predict (default: %(default)s)",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed of data and models (default: 0)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=threads,
        help="torch intra-op threads and OpenMP/BLAS threads (default: %(default)s; "
        "0 leaves the libraries' own defaults)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=RESULTS_DIR,
        help="folder of the JSON and markdown results (default: bench/results)",
    )


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one fails."""
    from skhep_reweight._nn import resolve_device as resolve

    try:
        return resolve(device)
    except ValueError as exc:
        raise SystemExit(f"--device {device}: {exc}") from None


def limit_threads(n_threads: int | None):
    """Limit torch, OpenMP and BLAS to ``n_threads`` (None or 0: leave the defaults).

    Returns the threadpoolctl limiter; keep a reference for as long as the limit should hold.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if not n_threads:
        return None
    torch.set_num_threads(n_threads)
    return threadpool_limits(limits=n_threads)


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so that a timer stops after the work is done."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable, device: str = "cpu"):
    """Run ``fn()`` and return ``(result, seconds)`` measured with ``time.perf_counter``."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", "unknown")


def machine_info(device: str) -> dict:
    """Where and with what the benchmark ran (recorded next to every result)."""
    import torch

    info = {
        "date": _dt.date.today().isoformat(),
        "cpu": _cpu_model(),
        "n_cpus": os.cpu_count(),
        "device": device,
        "gpu": torch.cuda.get_device_name() if str(device).startswith("cuda") else None,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": _load_average(),
    }
    for module in ("numpy", "scipy", "sklearn", "torch", "skorch", "hep_ml", "skhep_reweight"):
        info[module] = _version(module)
    return info


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], caption: str = "") -> str:
    """A GitHub markdown table; floats should be formatted by the caller."""
    lines = []
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(info: dict) -> str:
    threads = info.get("torch_threads")
    return (
        f"{info['date']}, {info['cpu']} ({info['n_cpus']} cores), device {info['device']}, "
        f"torch {info['torch']} with {threads} thread(s), numpy {info['numpy']}, "
        f"scikit-learn {info['sklearn']}, skorch {info['skorch']}, hep_ml {info['hep_ml']}, "
        f"load average at start {info['load_average_at_start']}"
    )


def write_results(
    output_dir: Path,
    name: str,
    payload: dict,
    markdown: str,
    *,
    args,
    info: dict,
    total_s: float,
    command: Sequence[str],
) -> tuple[Path, Path]:
    """Print ``markdown``, write ``name.json`` and ``name.md`` under ``output_dir``, say where.

    Every payload also records the seed, the machine, the run time, the load average at the end
    and the command line.
    """
    print()
    print(markdown)
    output_dir.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "random_state": args.random_state, "machine": info, "total_s": total_s}
    payload["load_average_at_end"] = _load_average()
    payload["command"] = " ".join(command)
    json_path = output_dir / f"{name}.json"
    md_path = output_dir / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    md_path.write_text(markdown + "\n")
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return json_path, md_path


def _jsonable(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
