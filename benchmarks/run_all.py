"""Rerun every command of the README's Performance table and print what each prints now.

    python benchmarks/run_all.py            # every row, one after another, then the demo
    python benchmarks/run_all.py loader     # the rows whose command mentions "loader"
    python benchmarks/run_all.py demo       # only the Quickstart demo's figures

The README's figures carry the date and machine they were measured on; this script is how
they are regenerated: run it on an otherwise idle machine and copy the figures it prints
into the table (with the new date). It reads the commands from the README itself, so a row
whose command no longer runs fails here.

``demo`` runs the Quickstart demo in a fresh folder with a fresh cache and prints the
sentence the Quickstart quotes (time, test ACER, worst-species APCER, BPCER, machine). The
demo repeats exactly on one machine; on a CPU with other vector kernels the float rounding
differs, five epochs amplify it, and the test rates can land a video apart, which is why the
Quickstart names the machine (:func:`machine`).
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = "mtfas fit --config configs/demo.yaml"


def machine() -> str:
    """The CPU model and the vector kernels torch picks on it, e.g. ``AMD EPYC, AVX512``.

    Two machines with the same string run the demo's float operations in the same order.
    """
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1] for line in info if line.startswith("model name")]
        model = " ".join(names[0].split()) if names else model
    except OSError:
        pass
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}"


def demo_figures(output: str) -> dict[str, float]:
    """Test ACER, worst-species APCER and BPCER (in %) from the demo's printed test table."""
    start = output.index("TEST at")
    table = output[start : output.index("Scores and results", start)]
    patterns = {
        "acer": r"^ACER\s+([\d.]+)\s*%",
        "apcer": r"^APCER \(worst[^)]*\)\s+([\d.]+)\s*%",
        "bpcer": r"^BPCER\s+([\d.]+)\s*%",
    }
    found = {name: re.search(pattern, table, flags=re.M) for name, pattern in patterns.items()}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise ValueError(f"the demo's test table has no {missing}:\n{table}")
    return {name: float(match.group(1)) for name, match in found.items() if match}


def run_demo() -> int:
    """Run the Quickstart demo in a fresh folder; print the Quickstart's sentence."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "configs").symlink_to(ROOT / "configs")
        env = {**os.environ, "MTFAS_CACHE": str(Path(folder) / "cache")}
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "mtfas", *shlex.split(DEMO)[1:]],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        return 1
    rates = demo_figures(result.stdout + result.stderr)
    print(
        f"$ {DEMO}\n{seconds:.0f} s: test ACER {rates['acer']:.2f} % at the dev threshold "
        f"(worst-species APCER {rates['apcer']:.2f} %, BPCER {rates['bpcer']:.2f} %), "
        f"measured on {machine()}, {time.strftime('%Y-%m-%d')}"
    )
    return 0


def performance_commands(readme: str) -> list[str]:
    """The commands in the first column of the README's Performance table."""
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(python benchmarks/[^`]+)` \|", section, flags=re.M)


def main(argv: list[str]) -> int:
    commands = performance_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    chosen = [c for c in commands if not argv or any(a in c for a in argv)]
    failed = 0
    if argv == ["demo"]:
        return run_demo()
    for command in chosen:
        print(f"$ {command}", flush=True)
        start = time.perf_counter()
        args = shlex.split(command)
        result = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, check=False)
        print(f"(exit {result.returncode}, {time.perf_counter() - start:.0f} s)\n", flush=True)
        failed += result.returncode != 0
    if not argv or "demo" in argv:
        failed += run_demo() != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
