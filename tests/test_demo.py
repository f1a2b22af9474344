"""The README's demo (python -m sklearn_tsmask) runs and reports real scores."""

import re

import pytest

from sklearn_tsmask.__main__ import main


def test_demo_prints_scores_and_saves_heatmap(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    assert main(["--n-samples", "3", "--max-iter", "150", "--device", "cpu", "--quiet", "--output", str(png)]) == 0
    out = capsys.readouterr().out
    scores = {k: float(v) for k, v in re.findall(r"^(AUP|AUR)\s+([0-9.]+)", out, flags=re.M)}
    assert set(scores) == {"AUP", "AUR"}
    # Even a short optimisation ranks the salient entries far above chance (5% are salient).
    assert scores["AUP"] > 0.5
    assert 0.0 < scores["AUR"] <= 1.0
    assert "seconds" in out
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_output_file(capsys):
    assert main(["--data", "rare-time", "--n-samples", "2", "--max-iter", "20", "--device", "cpu", "--quiet", "--output", ""]) == 0
    assert "heatmap" not in capsys.readouterr().out
