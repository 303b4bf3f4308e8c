"""The README's promises: its test command is what CI runs, its code block runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _quickstart_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert "mtfas fit --config configs/demo.yaml" in demo
    assert "pytest" in tests
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_lines


@pytest.mark.slow
def test_own_trainer_code_block_runs(tmp_path, monkeypatch):
    section = README.split("## Use `MetaTeacherSystem` in your own `Trainer`", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    system = namespace["system"]
    assert 0.0 <= system.test_reports["test"].acer <= 1.0
    assert namespace["trainer"].global_step > 0
