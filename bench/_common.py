"""Helpers shared by the benchmark scripts: options, threads, devices, timing and result files.

Not a benchmark itself. The scripts in this folder import it by name (``python bench/NAME.py``
puts ``bench/`` on ``sys.path``), so each of them still runs on its own.
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
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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
    output_dir: Path, name: str, payload: dict, markdown: str, *, args, info: dict, total_s: float
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
    payload["command"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
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
