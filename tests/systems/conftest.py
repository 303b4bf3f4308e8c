from __future__ import annotations

import pytest
from lightning.pytorch import Trainer


@pytest.fixture
def make_trainer(tmp_path):
    def make(**kwargs):
        defaults = dict(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=tmp_path,
        )
        defaults.update(kwargs)
        return Trainer(**defaults)

    return make
