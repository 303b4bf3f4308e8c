"""Rerun every command of the README's Performance table and print what each prints now.

    python benchmarks/run_all.py            # every row, one after another
    python benchmarks/run_all.py loader     # the rows whose command mentions "loader"

The README's figures carry the date and machine they were measured on; this script is how
they are regenerated: run it on an otherwise idle machine and copy the figures it prints
into the table (with the new date). It reads the commands from the README itself, so a row
whose command no longer runs fails here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def performance_commands(readme: str) -> list[str]:
    """The commands in the first column of the README's Performance table."""
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(python benchmarks/[^`]+)` \|", section, flags=re.M)


def main(argv: list[str]) -> int:
    commands = performance_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    chosen = [c for c in commands if not argv or any(a in c for a in argv)]
    failed = 0
    for command in chosen:
        print(f"$ {command}", flush=True)
        start = time.perf_counter()
        args = shlex.split(command)
        result = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, check=False)
        print(f"(exit {result.returncode}, {time.perf_counter() - start:.0f} s)\n", flush=True)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
