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


# --------------------------------------------------------------------------- SiW
# A tiny synthetic SiW release: 4 train + 2 test subjects x 1 sensor x (2 live sessions +
# 2 print + 4 replay media in 1 session) = 48 videos of 4 frames, 64 px.
SIW_RELEASE = {
    "subjects_per_split": (4, 2),
    "sensors": [1],
    "live_sessions": [1, 2],
    "attack_sessions": [1],
    "n_frames": 4,
    "size": 64,
    "seed": 0,
}
#: Crop settings every SiW test uses (protocol 1 keeps the first 2 frames of training
#: videos, so that the restriction shows with 4-frame videos).
SIW_CROPS = {
    "crop_size": 32,
    "n_frames": 3,
    "preprocess_workers": 0,
    "progress": False,
    "train_frames": 2,
    "dev_fraction": 0.25,
}


@pytest.fixture(scope="session")
def siw_release(tmp_path_factory):
    """Root of the tiny synthetic SiW release (read only)."""
    from mtfas.synthetic.layouts import write_siw

    return write_siw(tmp_path_factory.mktemp("siw") / "SiW", **SIW_RELEASE).root


@pytest.fixture(scope="session")
def siw_cache(tmp_path_factory):
    """Crop-cache folder shared by the data modules over ``siw_release``."""
    return tmp_path_factory.mktemp("siw_cache")


# --------------------------------------------------------------------------- Replay-Attack
# A tiny synthetic Replay-Attack release: 2 + 1 + 1 clients x 2 lightings x (1 live take +
# 2 supports x 5 attack sources) = 88 videos of 4 frames, 64 px; frame 0 of every
# face-location file is a zero box; 3 x 2 enrolment videos besides.
REPLAY_RELEASE = {
    "subjects_per_split": (2, 1, 1),
    "takes": [1],
    "zero_box_frames": [0],
    "enroll_clients": 1,
    "n_frames": 4,
    "size": 64,
    "seed": 0,
}
#: Crop settings every Replay-Attack test uses (3 of 4 frames: 0, 2, 3).
REPLAY_CROPS = {"crop_size": 32, "n_frames": 3, "preprocess_workers": 0, "progress": False}


@pytest.fixture(scope="session")
def replay_release(tmp_path_factory):
    """Root of the tiny synthetic Replay-Attack release (read only)."""
    from mtfas.synthetic.layouts import write_replay_attack

    root = tmp_path_factory.mktemp("replay") / "replayattack"
    return write_replay_attack(root, **REPLAY_RELEASE).root


@pytest.fixture(scope="session")
def replay_cache(tmp_path_factory):
    """Crop-cache folder shared by the data modules over ``replay_release``."""
    return tmp_path_factory.mktemp("replay_cache")


# --------------------------------------------------------------------------- CASIA-FASD, MSU-MFSD
# Tiny synthetic releases of the two benchmarks without face annotations: CASIA-FASD with
# 4 train + 2 test subjects x 12 files = 72 videos; MSU-MFSD with 4 train + 2 test clients
# x 8 videos = 48 (Android videos sideways with rotation metadata), and the same MSU release
# stored sideways without metadata (48). 3 frames of 64 px each. Tests read the
# generator's true boxes (<release>/mtfas_face_boxes): dlib finds no face at 64 px.
CASIA_RELEASE = {"subjects_per_split": [4, 2], "n_frames": 3, "size": 64, "seed": 0}
MSU_RELEASE = {"subjects_per_split": [4, 2], "n_frames": 3, "size": 64, "seed": 0}
#: Crop settings of the CASIA-FASD and MSU-MFSD tests (one cache per release).
DETECTED_CROPS = {"crop_size": 32, "n_frames": 3, "preprocess_workers": 0, "progress": False}


@pytest.fixture(scope="session")
def casia_release(tmp_path_factory):
    """Root of the tiny synthetic CASIA-FASD release (read only)."""
    from mtfas.synthetic.layouts import write_casia_fasd

    return write_casia_fasd(tmp_path_factory.mktemp("casia") / "CASIA-FASD", **CASIA_RELEASE).root


@pytest.fixture(scope="session")
def msu_release(tmp_path_factory):
    """Root of the tiny synthetic MSU-MFSD release, sideways phone videos with metadata."""
    from mtfas.synthetic.layouts import write_msu_mfsd

    return write_msu_mfsd(tmp_path_factory.mktemp("msu") / "MSU-MFSD", **MSU_RELEASE).root


@pytest.fixture(scope="session")
def msu_bare_release(tmp_path_factory):
    """The same MSU-MFSD release with the phone videos sideways and no rotation metadata."""
    from mtfas.synthetic.layouts import write_msu_mfsd

    folder = tmp_path_factory.mktemp("msu_bare") / "MSU-MFSD"
    return write_msu_mfsd(folder, sideways="bare", **MSU_RELEASE).root


@pytest.fixture(scope="session")
def casia_cache(tmp_path_factory):
    """Crop-cache folder of the data modules over ``casia_release``."""
    return tmp_path_factory.mktemp("casia_cache")


@pytest.fixture(scope="session")
def msu_cache(tmp_path_factory):
    """Crop-cache folder of the data modules over ``msu_release``."""
    return tmp_path_factory.mktemp("msu_cache")


# --------------------------------------------------------------------------- your own data (table)
# A tiny synthetic "own data" release: 3 train + 2 dev + 2 test subjects x (live, print1,
# replay1) x (one PNG image + one 3-frame video) = 42 files of 64 px, listed by table.csv
# (with per-file true-box annotation files; the images and videos also follow the folder
# convention under data/).
TABLE_RELEASE = {"subjects_per_split": (3, 2, 2), "n_frames": 3, "size": 64, "seed": 0}
#: Crop settings every table test uses (the true boxes, no detector: dlib finds no face at
#: 64 px).
TABLE_CROPS = {
    "crop_size": 32,
    "n_frames": 3,
    "preprocess_workers": 0,
    "progress": False,
    "detector_fallback": False,
}


@pytest.fixture(scope="session")
def table_release(tmp_path_factory):
    """Root of the tiny synthetic table release (read only); its table is ``table.csv``."""
    from mtfas.synthetic.layouts import write_table_release

    return write_table_release(tmp_path_factory.mktemp("table") / "own", **TABLE_RELEASE).root


@pytest.fixture(scope="session")
def table_cache(tmp_path_factory):
    """Crop-cache folder shared by the data modules over ``table_release``."""
    return tmp_path_factory.mktemp("table_cache")


# --------------------------------------------------------------------------- partial attacks
# A tiny synthetic partial-attack release (mtfas.synthetic.layouts.partial, default
# species): 1 phone x 1 session x (3 train users x 6 species + 1 dev x 6 + 1 test x 5) = 29
# videos of 2 frames, 48 px, with their cue-mask videos. The arguments are the data module's
# (SyntheticPartialDataModule), so a config run on the release finds it complete.
PARTIAL_RELEASE = {
    "phones": [1],
    "sessions": [1],
    "users_per_split": [3, 1, 1],
    "video_frames": 2,
    "video_size": 48,
}
#: Crop settings every partial-attack test uses (one cache).
PARTIAL_CROPS = {"crop_size": 32, "n_frames": 2, "preprocess_workers": 0, "progress": False}


@pytest.fixture(scope="session")
def partial_release(tmp_path_factory):
    """Root of the tiny synthetic partial-attack release (read only)."""
    from mtfas.synthetic.layouts import write_partial

    args = PARTIAL_RELEASE
    return write_partial(
        tmp_path_factory.mktemp("partial") / "partial",
        phones=args["phones"],
        sessions=args["sessions"],
        users_per_split=args["users_per_split"],
        n_frames=args["video_frames"],
        size=args["video_size"],
    ).root


@pytest.fixture(scope="session")
def partial_cache(tmp_path_factory):
    """Crop-cache folder shared by the data modules over ``partial_release``."""
    return tmp_path_factory.mktemp("partial_cache")


#: Tests that take minutes, started first so that with ``pytest -n 2`` the other worker
#: runs everything else meanwhile (started last, the other worker would idle at the end).
LONGEST_FIRST = ("test_the_readme_flow_runs_verbatim_and_its_figures_are_what_the_demo_prints",)


def pytest_collection_modifyitems(config, items):
    """Move :data:`LONGEST_FIRST` to the front of the run (order otherwise unchanged)."""
    items.sort(key=lambda item: item.name not in LONGEST_FIRST)


def pytest_configure(config):
    """Under ``pytest -n N``, each worker's PyTorch uses one intra-op thread.

    N workers on N cores with PyTorch's default of one thread per core oversubscribe the
    machine (OpenMP threads spin while they wait for a core), which slows every worker.
    Subprocesses that tests start (the README's demo, ``mtfas fit`` runs) keep the default
    thread count, so they compute exactly what a user's run computes, but wait passively
    (``OMP_WAIT_POLICY=PASSIVE``: a waiting OpenMP thread sleeps instead of spinning; only
    the scheduling changes, not the numbers). Measured: the demo beside one busy process,
    180 s spinning, 103 s passive, the same printed figures.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
