"""`tt-ckpt trace` files read by Python: the .ttc trace through ttckpt (roles 4-7, the trace
tensor set of spec/TRACE.md) and the safetensors form through the real safetensors package
hold the same tensors, bit for bit, with the same roles."""
import json

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

import ttckpt
from conftest import run


def test_ttc_and_safetensors_traces_agree(tmp_path):
    ckpt = tmp_path / "model.ttc"
    run("init", ckpt)
    run("trace", ckpt, "-o", tmp_path / "trace.ttc")
    run("trace", ckpt, "-o", tmp_path / "trace.safetensors", "--format", "safetensors")
    metadata, tensors = ttckpt.load(str(tmp_path / "trace.ttc"))
    assert metadata["trace.step"] == 1 and metadata["trace.target_count"] == 4
    st = load_file(str(tmp_path / "trace.safetensors"))
    assert set(st) == set(tensors)
    for name, array in tensors.items():
        assert array.dtype == np.float32 and st[name].dtype == np.float32
        assert np.array_equal(array.view(np.uint32), st[name].view(np.uint32)), name
    with ttckpt.TTCFile(str(tmp_path / "trace.ttc")) as f:
        roles = {e.name: e.role for e in f.entries}
    with safe_open(str(tmp_path / "trace.safetensors"), framework="np") as f:
        meta = f.metadata()
    assert json.loads(meta["trace.roles"]) == roles
    assert {roles[n] for n in roles} == {"activation", "activation_grad", "gradient", "update", "other"}
    # The series' sentence, and its per-position losses (published: 1.9033 1.6123 1.8479 1.9560).
    assert tensors["batch.tokens"].tolist() == [[1, 3, 4, 5, 2]]
    assert np.allclose(tensors["act.losses"][0, :4], [1.9033, 1.6123, 1.8479, 1.9560], atol=5e-5)
