"""Honest output: the goals, the machine, the table of figures met or missed, a profile as
the reason for each miss, and the curves drawn as log-log plots."""

from __future__ import annotations

import io
import operator
import os
import platform
import pstats
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench.common import BIN, WORK, env_for

#: figure -> (comparison, goal), as issue 12 sets them
GOALS: dict[str, tuple[str, float]] = {
    "check_500_seconds": ("<=", 1.0),
    "ingest_ratio_vs_openssl": (">=", 0.7),
    "ingest_peak_rss_mib": ("<=", 100),
    "log_verify_vs_bare_hashing": (">=", 0.3),
    "help_vs_python_ratio": ("<=", 4),
    "log_prove_ms_1m": ("<=", 10),
    "pack_export_seconds_1m": ("<=", 3),
    "log_verify_seconds_1m": ("<=", 15),
    "append_ratio_vs_sqlite": (">=", 0.25),
    "append_slowdown_1m": ("<=", 1.5),
}
_OPS = {"<=": operator.le, ">=": operator.ge}
_SIGNS = {"<=": "≤", ">=": "≥"}


def machine() -> dict[str, object]:
    """Cores, CPU model and load average: what the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def verdicts(figures: dict[str, float]) -> list[dict[str, object]]:
    """One row per goal: figure, goal, measured (None when not measured), met."""
    rows = []
    for name, (op, goal) in GOALS.items():
        measured = figures.get(name)
        met = None if measured is None else bool(_OPS[op](measured, goal))
        rows.append(
            {"figure": name, "goal": f"{_SIGNS[op]} {goal:g}", "measured": measured, "met": met}
        )
    return rows


def table(rows: list[dict[str, object]], host: dict[str, object], load_after: list[float]) -> str:
    """The goals as a markdown table, with the machine quoted under it."""
    lines = ["| figure | goal | measured | met |", "| --- | --- | --- | --- |"]
    for row in rows:
        state = {True: "met", False: "**missed**", None: "not measured"}[row["met"]]  # type: ignore[index]
        measured = "—" if row["measured"] is None else f"{row['measured']:g}"
        lines.append(f"| `{row['figure']}` | {row['goal']} | {measured} | {state} |")
    lines.append("")
    lines.append(
        f"Machine: {host['cores']} cores, {host['cpu']}, {host['system']}, Python "
        f"{host['python']}; load average {host['load_average']} at the start, "
        f"{load_after} at the end."
    )
    return "\n".join(lines)


def profile_command(args: list[str], cwd: Path, top: int = 15) -> str:
    """The top functions by cumulative time of one run of `clearance ARGS` in `cwd`, run
    under cProfile in a process of its own."""
    out = WORK / "profile.pstats"
    code = (
        "import cProfile, sys\n"
        f"sys.argv = {['clearance', *args]!r}\n"
        "from clearance.cli.main import main\n"
        f"cProfile.run('main()', {str(out)!r})\n"
    )
    subprocess.run(
        [str(BIN / "python"), "-c", code],
        cwd=cwd,
        env=env_for(cwd),
        capture_output=True,
        check=False,
    )
    if not out.exists():
        return f"(no profile: `clearance {' '.join(args)}` did not run)"
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("cumulative").print_stats(top * 12)
    by_cumulative = _trim(text.getvalue(), top)
    text.seek(0)
    text.truncate()
    stats.sort_stats("tottime").print_stats(top)
    out.unlink()
    return f"{by_cumulative}\n  by own time:\n{_trim(text.getvalue(), top)}"


#: frames that only pass the time on (the command framework, the import machinery)
_WRAPPERS = ("importlib", "click/", "<string>", "{built-in method builtins.exec}")


def _trim(text: str, top: int) -> str:
    """pstats' table without its preamble and wrapper frames, `top` rows."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    rows = [
        line
        for line in lines[start + 1 :]
        if line.strip() and not any(w in line for w in _WRAPPERS)
    ]
    return "\n".join([lines[start], *rows[:top]]) if lines else ""


def reasons(
    rows: list[dict[str, object]], profilers: dict[str, Callable[[], str]]
) -> dict[str, str]:
    """A profile for each missed figure (one per profiler, shared by figures that share it)."""
    done: dict[int, str] = {}
    found = {}
    for row in rows:
        if row["met"] is not False:
            continue
        name = str(row["figure"])
        profiler = profilers.get(name)
        if profiler is None:
            found[name] = "no profile for this figure in bench/run.py"
            continue
        if id(profiler) not in done:
            try:
                done[id(profiler)] = profiler()
            except Exception as exc:  # a profile that fails must not hide the table
                done[id(profiler)] = f"(profiling failed: {exc})"
        found[name] = done[id(profiler)]
    return found


def plot(curves: dict[str, dict], folder: Path) -> list[Path]:
    """One log-log PNG per plot group (a curve's "plot" key, else its name), with a dashed
    line of slope 1 through each curve's largest point: a curve that stays above it towards
    the small sizes grows at most linearly (fixed costs, such as process start, dominate
    there); one that crosses it from below grows faster than linearly."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[tuple[str, dict]]] = {}
    for name, curve in curves.items():
        if len(curve.get("points", [])) >= 2:
            groups.setdefault(curve.get("plot", name), []).append((name, curve))
    written = []
    for group, members in groups.items():
        fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=100)
        for name, curve in members:
            xs = [p[0] for p in curve["points"]]
            ys = [p[1] for p in curve["points"]]
            (line,) = ax.plot(xs, ys, marker="o", label=name)
            if all(y > 0 for y in ys) and not curve.get("flat"):
                ax.plot(
                    xs,
                    [ys[-1] * x / xs[-1] for x in xs],
                    linestyle="--",
                    linewidth=0.8,
                    color=line.get_color(),
                    alpha=0.6,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(members[0][1].get("x", "size"))
        ax.set_ylabel(members[0][1].get("y", "cost"))
        ax.set_title(group.replace("_", " "), fontsize=10)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{group}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
