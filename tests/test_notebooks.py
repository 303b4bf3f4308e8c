"""The notebooks run end to end on tiny settings (MTFAS_TINY=1), quickstart then analysis."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIMEOUT_PER_CELL = 300


def execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[str, int]:
    """All text output, and the number of images shown."""
    text, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            data = output.get("data", {})
            text.append(data.get("text/plain", ""))
            images += "image/png" in data
    return "\n".join(text), images


def test_quickstart_then_analysis(tmp_path, monkeypatch):
    # One test, so that pytest-xdist never runs the analysis without the quickstart's scores.
    monkeypatch.setenv("MTFAS_TINY", "1")
    monkeypatch.setenv("MTFAS_RUN_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MTFAS_SCORES", str(tmp_path / "runs"))
    monkeypatch.setenv("WANDB_MODE", "offline")

    text, images = outputs(execute("quickstart.ipynb", tmp_path))
    assert images >= 1  # the teacher / student map panel
    assert "| metric | dev | test | test_idealised |" in text
    assert list((tmp_path / "runs").rglob("scores.csv"))

    text, images = outputs(execute("analysis.ipynb", tmp_path))
    assert images == 5  # ROC, DET, per-species ROC, histograms, per-species errors
    assert "TEST at the dev threshold" in text and "APCER" in text
