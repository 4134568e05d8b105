"""The example notebooks, executed on a real kernel."""

from pathlib import Path

from nbtools import execute, outputs_text

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_logging_api_tour(tmp_path):
    nb = execute(NOTEBOOKS / "logging-api.ipynb", cwd=tmp_path, env={"MPLBACKEND": "Agg"})
    text = outputs_text(nb)
    assert "Sigmoid" in text and "Y over X" in text
    assert (tmp_path / ".runwidgets" / "runwidgets.db").exists()
