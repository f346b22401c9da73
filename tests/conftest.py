"""Shared fixtures: paths to the shipped sample and the shared corpus, and one real local Ray per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import S3Server, s3_server_running

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "pipelines" / "quickstart.yaml"
CORPUS = Path(os.environ.get("CURATE_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus beside the checkout; tests that need it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A real local Ray, started once for the whole session; curate's RayExecutor joins it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def output_files(workdir: Path) -> dict[str, bytes]:
    """Every data file (kept and rejected Parquet) under a workdir, by relative path."""
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*.parquet"))}


@pytest.fixture(scope="session")
def quickstart_local(tmp_path_factory) -> Path:
    """The quickstart pipeline run once in-process; tests compare other runs against it."""
    from curate.config import load_pipeline
    from curate.dag import run_pipeline
    from curate.executors.local import LocalExecutor

    workdir = tmp_path_factory.mktemp("quickstart-local")
    with LocalExecutor() as executor:
        run_pipeline(load_pipeline(str(QUICKSTART), workdir=str(workdir)), executor, log=lambda line: None)
    return workdir




@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 API server for the whole session, with the shipped sample WARCs (sample/) and a reference text
    (reference/) uploaded."""
    pytest.importorskip("moto.server")
    with s3_server_running() as s3:
        for path in sorted((ROOT / "pipelines" / "sample").glob("*.warc*")):
            s3.upload(path, f"sample/{path.name}")
        if CORPUS.is_dir():
            reference = CORPUS / "target_text" / "wikitext2_raw_test.jsonl"
            s3.upload(reference, f"reference/{reference.name}")
        yield s3


RAY_STARTING_FILES = ("test_cluster.py", "test_ray.py", "test_ray_reaper.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n 2 --dist loadgroup`, as `make test` runs), every test that starts Ray runs on one
    worker: the session's one local Ray stays one, and no two Ray heads start side by side on a 2-core machine."""
    for item in items:
        if item.get_closest_marker("ray") or item.path.name in RAY_STARTING_FILES:
            item.add_marker(pytest.mark.xdist_group("ray"))
