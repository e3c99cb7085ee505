"""Measuring and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Sequence
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB: VmHWM, which exec
    resets (ru_maxrss keeps the forking parent's peak, which a child
    started by a big benchmark parent would report as its own)."""
    return _status_kib(None, "VmHWM") / 1024.0


def rss_mb(pid: int | None = None) -> float:
    """Current resident set size of ``pid`` (default: this process), in MiB."""
    return _status_kib(pid, "VmRSS") / 1024.0


def hwm_mb(pid: int) -> float:
    """Peak resident set size of a running process ``pid``, in MiB."""
    return _status_kib(pid, "VmHWM") / 1024.0


def _status_kib(pid: int | None, field: str) -> float:
    with open(f"/proc/{pid or 'self'}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of ``pid`` (default: this process) so far."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank: always an observed value."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import botocore

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "botocore": botocore.__version__,
        "platform": platform.platform(),
    }


def print_machine() -> None:
    info = machine()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"botocore {info['botocore']}, {info['platform']}; load average at start {load}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (also valid Markdown)."""
    text = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(text[0]), rule, *(line(r) for r in text[1:])])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> Any:
    """Run ``python -m <args>`` and return the JSON document its last stdout line holds.

    The child's stderr passes through, so its warnings stay visible.
    """
    done = subprocess.run(
        [sys.executable, "-m", *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child {' '.join(args)} failed with status {done.returncode}")
    return json.loads(lines[-1])


def profile_summary(path: str, top: int = 25) -> str:
    """The functions holding most samples in a py-spy raw (folded) profile.

    ``incl`` counts samples with the function anywhere on the stack, ``self``
    samples where it was running; both as % of all samples.
    """
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    with open(path) as handle:
        for line in handle:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack or not count.isdigit():
                continue
            samples = int(count)
            total += samples
            frames = [_frame_name(f) for f in stack.split(";")]
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + samples
            own[frames[-1]] = own.get(frames[-1], 0) + samples
    if not total:
        return "  (no samples)"

    def rows(ranked: list[str]) -> list[str]:
        return [
            f"  {inclusive[f] * 100 / total:5.1f} {own.get(f, 0) * 100 / total:5.1f} {f}"
            for f in ranked
        ]

    lines = [f"  {total} samples; incl% self% function; by inclusive time:"]
    lines += rows(sorted(inclusive, key=lambda f: -inclusive[f])[:top])
    lines.append("  by self time:")
    lines += rows(sorted(own, key=lambda f: -own[f])[:top])
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    """'create_client (botocore/session.py:846)' -> 'create_client (botocore/session.py)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name
