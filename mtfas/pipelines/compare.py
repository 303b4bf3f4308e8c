"""Compare supervision methods on one benchmark: MT-FAS vs handcrafted vs teacher-student.

``mtfas compare [fit arguments ...] --methods configs/model/mtfas.yaml
configs/model/binary_map.yaml ... [--seeds 0 1 2] [--out DIR]`` trains and tests, for every
seed and method, the same student on the same data, exactly as ``mtfas fit [fit arguments
...] --config METHOD.yaml --seed_everything SEED`` would (threshold chosen on dev, applied
unchanged to test). A method is a model configuration file: it is applied after the
command's own configuration and changes the system (class and method knobs) while the
student (and teacher) set before it are kept; its name is the file's stem. Each run goes
to ``<out>/runs/<method>_seed<S>``; ``compare.csv`` (one row per run, linked to its
folder) and ``compare.md`` (test APCER, BPCER and ACER as mean +- std over seeds, per
method; ``n=1`` for a single seed) go to ``<out>``. Where the runs' dev sets carry cue masks
(the synthetic partial-attack benchmark), the table also has the *cue contrast* of the
student's and the teacher's maps at the last validation (mean map value on the attack
instrument minus on the live skin of the same partial-attack frames,
:mod:`mtfas.systems.diagnostics`), read from each run's ``metrics.csv``.

The shipped method files (``configs/model/``): ``mtfas`` (:class:`~mtfas.MetaTeacherSystem`),
``binary_map`` and ``map_mean_bce`` (:class:`~mtfas.SupervisedSystem` with ZeroMap/OneMap
pixel supervision or BCE on the map mean) and ``teacher_student``
(:class:`~mtfas.TeacherStudentSystem`, a teacher trained for accuracy and distilled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mtfas.errors import ConfigError
from mtfas.pipelines.jobs import Job, JobResult, Runner, run_jobs
from mtfas.reporting.runs import last_logged
from mtfas.reporting.tables import markdown_table, spread, summarise, write_tables

__all__ = ["CUES", "RATES", "compare_jobs", "compare_markdown", "compare_table", "run_compare"]

RATES = ("apcer", "bpcer", "acer")
#: Cue-contrast columns and the logged diagnostics they come from (last validation, dev).
CUES = {
    "student_cue_contrast": "diag/student_cue_contrast",
    "teacher_cue_contrast": "diag/teacher_cue_contrast",
}


def compare_jobs(methods: Sequence[str | Path], seeds: Sequence[int]) -> list[Job]:
    """One job per (seed, method file).

    Raises:
        ConfigError: If a method file is missing, two share a name, or no seed is given.
    """
    if not seeds:
        raise ConfigError("give at least one seed (--seeds 0 1 2)")
    if not methods:
        raise ConfigError("give at least one method file (--methods configs/model/*.yaml)")
    paths = [Path(m) for m in methods]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(
            f"method files not found: {missing}; a method is a model config file such as "
            "configs/model/binary_map.yaml"
        )
    names = [p.stem for p in paths]
    if len(set(names)) != len(names):
        raise ConfigError(f"two method files share a name: {names}; rename one")
    return [
        Job(
            f"{path.stem}_seed{seed}",
            ("--config", str(path), "--seed_everything", str(seed)),
            {"method": path.stem, "seed": int(seed)},
        )
        for seed in seeds
        for path in paths
    ]


def compare_table(results: Sequence[JobResult], out_dir: str | Path) -> pd.DataFrame:
    """One row per run: method, seed, test rates, worst species and run folder."""
    rows = []
    for result in results:
        test = result.test_report()
        run = ""
        if result.run_dir is not None:
            try:
                run = str(Path(result.run_dir).resolve().relative_to(Path(out_dir).resolve()))
            except ValueError:
                run = str(result.run_dir)
        cues = dict.fromkeys(CUES, math.nan)
        if result.run_dir is not None:
            logged = last_logged(result.run_dir, list(CUES.values()))
            cues = {column: logged[name] for column, name in CUES.items()}
        rows.append(
            {
                **result.job.labels,
                "apcer": test.apcer,
                "bpcer": test.bpcer,
                "acer": test.acer,
                "worst_species": test.worst_species,
                **cues,
                "run": run,
            }
        )
    return pd.DataFrame(rows)


def _map_value(value: float) -> str:
    """A map value (the cue differences) with three decimals."""
    return f"{value:.3f}"


def compare_markdown(runs: pd.DataFrame, title: str) -> str:
    """Per method: runs and mean ± std over seeds of each rate, in percent; then the runs."""
    cues = [c for c in CUES if c in runs and runs[c].notna().any()]
    summary = summarise(runs, [*RATES, *cues], by="method")
    rows = [
        [
            row["method"],
            row["runs"],
            *(spread(row[f"{r}_mean"], row[f"{r}_std"], row[f"{r}_n"]) for r in RATES),
            *(
                spread(row[f"{c}_mean"], row[f"{c}_std"], row[f"{c}_n"], _map_value, signed=True)
                for c in cues
            ),
        ]
        for _, row in summary.iterrows()
    ]
    labels = {
        "student_cue_contrast": "cue contrast, student (dev)",
        "teacher_cue_contrast": "cue contrast, teacher (dev)",
    }
    header = ["method", "runs", "APCER (worst) %", "BPCER %", "ACER %", *(labels[c] for c in cues)]
    links = ", ".join(
        f"[{row['method']} seed {row['seed']}]({row['run']})"
        for row in runs.to_dict("records")
        if row["run"]
    )
    notes = "Test set at the threshold chosen on dev; ± is the sample std over seeds."
    if cues:
        notes += (
            " Cue contrast: mean map value on the attack instrument minus on the live skin "
            "of the dev set's partial attacks, at the last validation (0 for a map that "
            "ignores where the instrument is; a method without a teacher has none)."
        )
    text = f"### {title}\n\n{markdown_table(header, rows)}\n\n{notes}\n"
    return text + (f"\nRuns: {links}\n" if links else "")


def run_compare(
    jobs: Sequence[Job], runner: Runner, out_dir: str | Path, title: str = "supervision"
) -> pd.DataFrame:
    """Run every job, write ``compare.csv`` / ``compare.md`` and return the per-run table."""
    runs = compare_table(run_jobs(jobs, runner, out_dir), out_dir)
    write_tables(out_dir, "compare", runs, compare_markdown(runs, title))
    return runs
