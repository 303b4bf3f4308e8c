"""Jobs, runners and the loop that runs them (the shape anomalib's pipelines have).

A pipeline makes :class:`Job` objects (one per fold, or per method and seed), hands each
to a :data:`Runner` together with the job's own run folder, and collects the
:class:`JobResult` objects. The runner is given to the pipeline by its caller, so the
pipelines never import the command line: ``mtfas folds`` / ``mtfas compare`` pass one
that runs ``mtfas fit`` with the command's resolved arguments plus :attr:`Job.args`;
tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtfas.errors import ConfigError
from mtfas.metrics.report import PADReport

__all__ = ["Job", "JobResult", "Runner", "run_jobs"]


@dataclass(frozen=True)
class Job:
    """One training run of a pipeline.

    Attributes:
        name: Name of the job, also the name of its run folder (``fold_3``,
            ``binary_map_seed1``).
        args: ``mtfas fit`` arguments that make this job (appended to the command's own).
        labels: What identifies the job in the tables (``{"fold": 3}``,
            ``{"method": "binary_map", "seed": 1}``).
    """

    name: str
    args: tuple[str, ...]
    labels: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """What one job produced: its test reports and the folder its results went to."""

    job: Job
    reports: Mapping[str, PADReport]
    run_dir: Path | None = None

    def test_report(self) -> PADReport:
        """The report at the dev-chosen threshold.

        Raises:
            ConfigError: If the run produced no test report at a dev-chosen threshold.
        """
        if "test" not in self.reports or "dev" not in self.reports:
            raise ConfigError(
                f"{self.job.name} produced no test report at a dev-chosen threshold; keep "
                "--test_after_fit true and let the data module return [dev, test] test loaders"
            )
        return self.reports["test"]


#: Runs one job, writing under the given folder, and returns its result.
Runner = Callable[[Job, Path], JobResult]


def run_jobs(jobs: Sequence[Job], runner: Runner, out_dir: str | Path) -> list[JobResult]:
    """Run every job in order, each with its own folder ``out_dir/runs/<job name>``.

    Raises:
        ConfigError: If there is no job or two jobs share a name.
    """
    names = [job.name for job in jobs]
    if not jobs or len(set(names)) != len(names):
        raise ConfigError(f"a pipeline needs distinct jobs, got {names}")
    results = []
    for i, job in enumerate(jobs, start=1):
        print(f"=== {job.name} ({i} of {len(jobs)}) ===", flush=True)
        results.append(runner(job, Path(out_dir) / "runs" / job.name))
    return results
