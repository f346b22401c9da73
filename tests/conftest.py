"""Shared fixtures: paths to the shipped sample and the shared corpus, and one real local Ray per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """A real S3 API server (moto in server mode) on 127.0.0.1, and its bucket with the shipped sample WARCs and
    reference texts uploaded."""

    endpoint: str
    bucket: str
    env: dict[str, str]  # what a process needs to reach it (credentials are moto's dummies)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def objects(self, prefix: str) -> dict[str, bytes]:
        """Every object under `prefix`, by key relative to it."""
        client, found = self.client(), {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):  # a folder marker pyarrow leaves, not a file
                    continue
                body = client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix):].lstrip("/")] = body
        return found


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server in a child process for the whole session; the environment points pyarrow at it (as
    AWS_ENDPOINT_URL does for any AWS SDK), and is restored afterwards."""
    pytest.importorskip("moto.server")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        s3 = S3Server(endpoint, "curate-test", env)
        client = s3.client()
        client.create_bucket(Bucket=s3.bucket)
        for path in sorted((ROOT / "pipelines" / "sample").glob("*.warc*")):
            client.upload_file(str(path), s3.bucket, f"sample/{path.name}")
        if CORPUS.is_dir():
            reference = CORPUS / "target_text" / "wikitext2_raw_test.jsonl"
            client.upload_file(str(reference), s3.bucket, f"reference/{reference.name}")
        yield s3
    finally:
        server.terminate()
        server.wait(timeout=30)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
