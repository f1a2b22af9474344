"""The README's demo (python -m sklearn_tsmask) runs and reports real scores."""

import re

import pytest

from sklearn_tsmask.__main__ import main


def _scores(out):
    return {k: float(v) for k, v in re.findall(r"^(AUP|AUR)\s+([0-9.]+)", out, flags=re.M)}


def test_demo_prints_scores_and_saves_heatmap(tmp_path, capsys):
    """The default run (ExtremalMask with its defaults) finds the salient entries."""
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    assert main(["--n-samples", "4", "--device", "cpu", "--quiet", "--output", str(png)]) == 0
    out = capsys.readouterr().out
    assert "ExtremalMask with its defaults" in out
    scores = _scores(out)
    assert set(scores) == {"AUP", "AUR"}
    assert scores["AUP"] > 0.95 and scores["AUR"] > 0.9  # 5% of the entries are salient
    assert "seconds" in out
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("method", ["dynamask", "contralsp"])
def test_demo_other_methods_without_output_file(method, capsys):
    assert main(["--method", method, "--data", "rare-time", "--n-samples", "3", "--max-iter", "100", "--device", "cpu",
                 "--quiet", "--output", ""]) == 0
    out = capsys.readouterr().out
    assert "heatmap" not in out
    # Even a short optimisation ranks the salient entries far above chance (5% are salient).
    assert _scores(out)["AUP"] > 0.5
    assert ("chosen areas" in out) == (method == "dynamask")
