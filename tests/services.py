"""Real services on this machine for the tests and benchmarks: an S3 API server (moto in server mode) and a Ray
cluster of several nodes started with `ray start`. Each is a context manager that stops what it started, and only
that (a `ray stop` would also stop the test session's own Ray)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")
# A secret no output may contain (tests/test_object_storage.py looks for it); moto accepts any credentials.
S3_SECRET = "curate-test-secret-never-written"
S3_KEY_ID = "curate-key-id"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """A running S3 API server on 127.0.0.1 and its bucket."""

    endpoint: str
    bucket: str
    env: dict[str, str]  # what a process needs to reach it

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)

    def upload(self, path: Path, key: str) -> None:
        self.client().upload_file(str(path), self.bucket, key)

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


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def s3_server_running(bucket: str = "curate-test") -> Iterator[S3Server]:
    """moto's S3 server in a child process, with an empty bucket; the environment of this process points
    pyarrow at it (AWS_ENDPOINT_URL, as for any AWS SDK) while the block runs."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": S3_KEY_ID,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in env}
    try:
        _wait_for_port(port, server, 30, "moto's S3 server")
        os.environ.update(env)
        s3 = S3Server(env["AWS_ENDPOINT_URL"], bucket, env)
        s3.client().create_bucket(Bucket=bucket)
        yield s3
    finally:
        server.terminate()
        server.wait(timeout=30)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class RayCluster:
    address: str
    dashboard: str
    env: dict[str, str]  # what a process needs to use it (token authentication on)
    folders: dict[str, Path] = field(default_factory=dict)  # each node's working directory


def _alive_nodes(env: dict[str, str], address: str) -> int:
    status = subprocess.run([RAY, "status", "--address", address], env=env, capture_output=True, text=True)
    active = status.stdout.split("Active:")[1].split("Pending:")[0] if "Active:" in status.stdout else ""
    return active.count("node_")


def _ray_node(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """`ray start --block` in its own process group, so that stopping it stops this node and nothing else. Each
    node's dashboard agent gets its own port: the default one (52365) is taken by whichever Ray on this machine
    started first (the test session's own), and a node whose agent cannot listen takes no job."""
    return subprocess.Popen([RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                             "--disable-usage-stats", "--dashboard-agent-listen-port", str(free_port()), *args],
                            cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def ray_cluster_running(nodes: int, folder: Path, env: dict[str, str]) -> Iterator[RayCluster]:
    """A head and `nodes - 1` more nodes of one CPU each, each with its own temp dir and working directory (under
    `folder`), with token authentication as Ray 2.59+ does by default. `env` is given to every node (e.g. what
    reaches an S3 server)."""
    env = {**env, "RAY_AUTH_MODE": "token", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    port, dashboard = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    # Short temp dirs: Ray's Unix sockets live under them, and a socket path may not exceed 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    folders = {f"node{i}": folder / f"node{i}" for i in range(nodes)}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    started = []
    try:
        deadline = time.monotonic() + 120
        for index, cwd in enumerate(folders.values()):
            options = (["--head", "--port", str(port), "--include-dashboard", "true", "--dashboard-host",
                        "127.0.0.1", "--dashboard-port", str(dashboard), "--ray-client-server-port", str(free_port())]
                       if index == 0 else ["--address", address])
            started.append(_ray_node([*options, "--temp-dir", str(temp / f"node{index}")], cwd, env))
            while _alive_nodes(env, address) < index + 1:
                if time.monotonic() > deadline or started[-1].poll() is not None:
                    raise RuntimeError(f"Ray node {index} did not start")
                time.sleep(1)
        yield RayCluster(address, f"http://127.0.0.1:{dashboard}", env, folders)
    finally:
        for node in reversed(started):  # the whole process group: raylet, GCS, dashboard, workers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
