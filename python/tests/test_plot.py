"""The SVG charts, parsed with xml.etree: point counts, axis ranges, resume marks, bars."""
import math
import xml.etree.ElementTree as ET

import numpy as np
from safetensors.numpy import load_file

from conftest import assert_trouble, run, run_json

SVG = "{http://www.w3.org/2000/svg}"
LEFT, RIGHT, TOP, BOTTOM = 80.0, 770.0, 50.0, 390.0  # plot area, see SVGPlot.swift


def by_id(root, ident):
    return next(e for e in root.iter() if e.get("id") == ident)


def points(polyline):
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


def test_loss_chart(checkpoints, tmp_path):
    ckpt = checkpoints["resumed"]
    out = tmp_path / "loss.svg"
    run("plot", ckpt, "-o", out)
    training = run_json("inspect", ckpt, "--json")["training"]
    losses = training["loss_history"]
    assert len(losses) == 50
    root = ET.parse(out).getroot()
    assert root.tag == SVG + "svg"
    line = by_id(root, "loss")
    pts = points(line)
    assert len(pts) == len(losses) == int(line.get("data-count"))
    x_axis, y_axis = by_id(root, "x-axis"), by_id(root, "y-axis")
    x_min, x_max = float(x_axis.get("data-min")), float(x_axis.get("data-max"))
    y_min, y_max = float(y_axis.get("data-min")), float(y_axis.get("data-max"))
    assert y_axis.get("data-scale") == "linear"
    assert x_min == 0 and len(losses) <= x_max
    assert y_min <= min(losses) and max(losses) <= y_max
    # Every point is where the axis ranges put it (coordinates have 2 decimals).
    for step, ((x, y), loss) in enumerate(zip(pts, losses), start=1):
        assert math.isclose(x, LEFT + (step - x_min) / (x_max - x_min) * (RIGHT - LEFT), abs_tol=0.006)
        assert math.isclose(y, BOTTOM - (loss - y_min) / (y_max - y_min) * (BOTTOM - TOP), abs_tol=0.006)
    # One resume, at step 30.
    resumes = [e for e in root.iter() if e.get("class") == "resume"]
    assert [r.get("data-step") for r in resumes] == [str(s) for s in training["session_starts"][1:]] == ["30"]
    # Tick labels are the axis ranges' round numbers.
    ticks = [float(t.get("data-value")) for t in y_axis if t.get("class") == "tick"]
    assert ticks[0] == y_min and ticks[-1] == y_max
    # Deterministic.
    again = tmp_path / "again.svg"
    run("plot", ckpt, "-o", again)
    assert again.read_bytes() == out.read_bytes()


def test_loss_chart_log_scale_and_thinning(checkpoints, tmp_path):
    out = tmp_path / "log.svg"
    run("plot", checkpoints["resumed"], "-o", out, "--log-y", "--max-points", 20)
    root = ET.parse(out).getroot()
    y_axis = by_id(root, "y-axis")
    assert y_axis.get("data-scale") == "log"
    lo, hi = float(y_axis.get("data-min")), float(y_axis.get("data-max"))
    assert math.isclose(math.log10(lo), round(math.log10(lo))) and math.isclose(math.log10(hi), round(math.log10(hi)))
    # 50 steps, at most 20 points: stride ceil(50/20) = 3 → steps 1, 4, ..., 49 (17) + step 50.
    line = by_id(root, "loss")
    assert line.get("data-steps").split() == [str(s) for s in list(range(1, 50, 3)) + [50]]
    assert len(points(line)) == 18


def test_change_chart_matches_numpy(checkpoints, tmp_path):
    a, b = checkpoints["init"], checkpoints["trained"]
    out = tmp_path / "change.svg"
    run("plot", a, b, "-o", out)
    # Independent computation from the exported tensors.
    ea, eb = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    run("export", a, ea)
    run("export", b, eb)
    ta, tb = load_file(str(ea)), load_file(str(eb))
    root = ET.parse(out).getroot()
    bars = [e for e in root.iter() if e.get("class") == "bar"]
    assert sorted(e.get("data-name") for e in bars) == sorted(ta)
    x_max = float(by_id(root, "x-axis").get("data-max"))
    for bar in bars:
        name = bar.get("data-name")
        x, y = ta[name].astype(np.float64), tb[name].astype(np.float64)
        norm = np.linalg.norm(x)
        if norm == 0:
            assert bar.get("data-value") == "undefined"  # e.g. LayerNorm beta starts at 0
            continue
        rel = np.linalg.norm(x - y) / norm
        # Both sums are in double over float32 inputs; only summation order can differ.
        assert math.isclose(float(bar.get("data-value")), rel, rel_tol=1e-9, abs_tol=1e-15), name
        assert rel <= x_max


def test_plot_errors(checkpoints, tmp_path):
    out = tmp_path / "x.svg"
    # A fresh model has no loss history.
    assert_trouble(run("plot", checkpoints["init"], "-o", out, check=False), "no loss history")
    # Different layouts.
    assert_trouble(run("plot", checkpoints["init"], checkpoints["gpt"], "-o", out, check=False))
    assert not out.exists()
