"""The global random states (torch, CUDA, numpy, Python) as checkpoint-safe plain data.

Checkpoints are read with ``torch.load(weights_only=True)``, which accepts tensors,
numbers, strings, lists, tuples and dicts but no numpy objects: the states are stored as
tensors and plain numbers, never pickled objects.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from mtfas.errors import MTFASError


def collect_rng_states() -> dict[str, Any]:
    """The current global random states, as tensors and plain numbers."""
    version, py_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002 (the global state)
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss": None if gauss is None else float(gauss),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Set the global random states to ones returned by :func:`collect_rng_states`.

    Raises:
        MTFASError: If ``states`` is not such a record.
    """
    try:
        torch.set_rng_state(states["torch"])
        npy = states["numpy"]
        np.random.set_state(  # noqa: NPY002 (the global state)
            (
                npy["name"],
                npy["keys"].numpy().astype(np.uint32),
                int(npy["pos"]),
                int(npy["has_gauss"]),
                float(npy["cached_gaussian"]),
            )
        )
        py = states["python"]
        random.setstate(
            (int(py["version"]), tuple(int(v) for v in py["state"].tolist()), py["gauss"])
        )
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:
        raise MTFASError(
            f"The checkpoint's random states cannot be restored ({err}); it was not written "
            "by this version of mtfas, or it is damaged."
        ) from err
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
