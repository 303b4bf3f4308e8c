from __future__ import annotations

import os

import pytest

# Nothing in the tests may need a W&B account or the network.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


# --------------------------------------------------------------------------- OULU-NPU
# A tiny synthetic OULU-NPU release (2 phones x 3 sessions x 2+2+2 users x 5 files = 180
# videos of 3 frames, 64 px) and one crop cache, shared by every test session-wide.
OULU_RELEASE = {
    "phones": [1, 2],
    "sessions": [1, 2, 3],
    "users_per_split": 2,
    "n_frames": 3,
    "size": 64,
    "seed": 0,
}
#: Crop settings every OULU test uses, so that they all share one cache.
OULU_CROPS = {"crop_size": 32, "n_frames": 3, "preprocess_workers": 0, "progress": False}


@pytest.fixture(scope="session")
def oulu_release(tmp_path_factory):
    """Root of the tiny synthetic OULU-NPU release (read only)."""
    from mtfas.synthetic.layouts import write_oulu_npu

    return write_oulu_npu(tmp_path_factory.mktemp("oulu") / "OULU-NPU", **OULU_RELEASE).root


@pytest.fixture(scope="session")
def oulu_cache(tmp_path_factory):
    """Crop-cache folder shared by the data modules over ``oulu_release``."""
    return tmp_path_factory.mktemp("oulu_cache")
