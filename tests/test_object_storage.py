"""Pipelines whose inputs and workdir are on S3 (a real S3 API server, moto, on 127.0.0.1) give the bytes of the
same pipelines on local disk; Common Crawl path lists; storage errors in one line (issue 11)."""

from __future__ import annotations

import functools
import gzip
import http.server
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.errors import ConfigError
from curate.executors.local import LocalExecutor
from curate.report.collect import collect
from tests.conftest import QUICKSTART, ROOT
from tests.services import S3_SECRET, free_port
from tests.test_resume import PIPELINE as CC_EN_LIKE
from tests.warc_factory import SAMPLE_DIR


def run(pipeline: Path, workdir: str | None = None, workers: int = 1) -> dict[str, int]:
    with LocalExecutor(workers) as executor:
        reports = run_pipeline(load_pipeline(str(pipeline), workdir=workdir), executor, log=lambda line: None)
    return {r.name: r.computed for r in reports}


def local_files(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in workdir.rglob("*") if p.is_file()}


def by_content(files: dict[str, bytes]) -> dict[str, list[bytes]]:
    """What a run wrote, comparable across storages: the commit records hold timings, and a partition's name is
    a hash of its input's URI, so partitions compare by content, per node and kind (kept or rejected); every other
    file (models, tokenizers, shards, manifests) by name."""
    grouped: dict[str, list[bytes]] = {}
    for rel, data in files.items():
        parts = rel.split("/")
        if parts[-1] in ("commit.json", "_LOCK", "kenlm.log") or "partitions" in parts:
            continue
        key = "/".join(parts[:-1] + ["part-*"]) if parts[-1].startswith("part-") else rel
        grouped.setdefault(key, []).append(data)
    return {key: sorted(values) for key, values in grouped.items()}


def test_quickstart_on_s3_gives_the_local_bytes(s3_server, quickstart_local, tmp_path):
    pipeline = tmp_path / "quickstart.yaml"
    pipeline.write_text(QUICKSTART.read_text().replace('"sample/*.warc*"', f'"{s3_server.uri("sample/*.warc*")}"'))
    workdir = s3_server.uri("runs/quickstart")
    assert run(pipeline, workdir) == {"text": 10, "unique": 10, "deduped": 10, "bpe": 10, "shards": 10}
    remote = s3_server.objects("runs/quickstart")
    expected = by_content(local_files(quickstart_local))
    assert by_content(remote) == expected and len(expected["text/part-*"]) == 10
    assert not any("/scratch/" in key or ".tmp-" in key for key in remote)  # committed nodes keep no scratch
    assert run(pipeline, workdir) == {"text": 0, "unique": 0, "deduped": 0, "bpe": 0, "shards": 0}
    remote_report, local_report = collect(workdir), collect(str(quickstart_local))  # `curate inspect` on a URI
    funnel = [(n["name"], n["docs_in"], n["docs_out"], n.get("tokens_out")) for n in local_report["nodes"]]
    assert [(n["name"], n["docs_in"], n["docs_out"], n.get("tokens_out")) for n in remote_report["nodes"]] == funnel
    assert remote_report["nodes"][-1]["shards"]["check"] == {"ok": True, "problems": [], "full": False}
    assert not [key for key, data in remote.items() if S3_SECRET.encode() in data or b"curate-key-id" in data]


def test_an_object_s_identity_is_its_version_not_its_content(s3_server, monkeypatch):
    """Planning a rerun over a crawl on object storage reads no input's content: an object is fingerprinted by its
    size and ETag (one HEAD request); a new upload of other bytes, even of the same size, is another version."""
    from curate import commit, storage

    key = "identity/sample-0000.warc.gz"
    data = (SAMPLE_DIR / "sample-0000.warc.gz").read_bytes()
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=data)
    reads: list[str] = []
    monkeypatch.setattr(storage, "read_range", lambda path, *a: reads.append(path) or b"")
    monkeypatch.setattr(storage, "read_bytes", lambda path: reads.append(path) or b"")
    first = commit.file_fingerprint(s3_server.uri(key))
    assert reads == [] and first["size"] == len(data) and first["version"].startswith("ETag:")
    assert commit.file_fingerprint(s3_server.uri(key)) == first
    changed = bytearray(data)
    changed[len(data) // 2] ^= 1
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=bytes(changed))
    second = commit.file_fingerprint(s3_server.uri(key))
    assert second["size"] == first["size"] and second != first and reads == []


def test_one_run_per_s3_workdir_and_a_dead_run_s_lock_expires(s3_server):
    """A second run on an S3 workdir is refused naming the first; a lock left by a run that died (its lease not
    renewed) is taken over; a lock taken over by another run is not deleted by the one that lost it."""
    import json
    import time

    from curate.errors import CurateError
    from curate.object_lock import LeaseLock

    workdir = s3_server.uri("locked/run")
    first = LeaseLock(workdir, lease_s=30, renew_s=0.2)
    first.acquire()
    try:
        with pytest.raises(CurateError, match=r"in use by another curate run \(pid \d+ on "):
            LeaseLock(workdir).acquire()
        time.sleep(0.6)  # renewed meanwhile, still held
        assert not first.lost
        with pytest.raises(CurateError, match="in use"):
            LeaseLock(workdir).acquire()
    finally:
        first.release()
    second = LeaseLock(workdir)
    second.acquire()  # released: free again
    second.release()
    client = s3_server.client()
    client.put_object(Bucket=s3_server.bucket, Key="locked/run/_LOCK", Body=json.dumps(
        {"host": "gone", "pid": 1, "since": time.time() - 120, "expires": time.time() - 60}).encode())
    taker = LeaseLock(workdir, renew_s=0.2)
    taker.acquire()  # the dead run's lease ran out
    client.put_object(Bucket=s3_server.bucket, Key="locked/run/_LOCK", Body=b"{}")  # someone else's now
    time.sleep(0.6)
    assert taker.lost
    taker.release()
    assert client.get_object(Bucket=s3_server.bucket, Key="locked/run/_LOCK")["Body"].read() == b"{}"


def test_curate_run_refuses_an_s3_workdir_in_use(s3_server, tmp_path):
    from curate.object_lock import LeaseLock

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f'nodes:\n  text: {{input: {{warc: "{s3_server.uri("sample/sample-0000.warc.gz")}"}}}}\n')
    lock = LeaseLock(s3_server.uri("busy"))
    lock.acquire()
    try:
        result = curate_run(str(pipeline), "--workdir", s3_server.uri("busy"), "--executor", "local")
    finally:
        lock.release()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"curate: error: {s3_server.uri('busy')} is in use")


def test_a_cc_en_like_pipeline_on_s3_gives_the_local_bytes(s3_server, corpus, tmp_path):
    reference = corpus / "target_text" / "wikitext2_raw_test.jsonl"
    with_kenlm = textwrap.dedent(CC_EN_LIKE) + textwrap.indent(textwrap.dedent("""
        lm: {{train_kenlm: {{text: "{target}", calibrate: deduped}}}}
        perplexity:
          input: scored
          steps: [{{kenlm_perplexity: {{model: lm, keep: [head, middle, tail]}}}}]
    """), "  ")
    runs = {}
    for where, sample, target, workdir in [
        ("local", SAMPLE_DIR, reference, tmp_path / "local"),
        ("s3", s3_server.uri("sample"), s3_server.uri(f"reference/{reference.name}"), s3_server.uri("runs/cc")),
    ]:
        pipeline = tmp_path / f"{where}.yaml"
        pipeline.write_text(with_kenlm.format(workdir=workdir, sample=sample, target=target))
        run(pipeline, workers=2)
        runs[where] = local_files(tmp_path / "local") if where == "local" else s3_server.objects("runs/cc")
    assert by_content(runs["s3"]) == by_content(runs["local"])
    assert {"quality_model/model.bin", "lm/model.binary", "_curate/shards/manifest.json"} <= set(runs["s3"])


def put_path_list(s3_server, key: str) -> list[str]:
    """A Common Crawl-style gzipped path list of the shipped sample WARC files (uploaded by the s3_server fixture)."""
    names = sorted(p.name for p in SAMPLE_DIR.glob("*.warc*"))
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key,
                                  Body=gzip.compress("".join(f"sample/{n}\n" for n in names).encode()))
    return names


def test_a_common_crawl_path_list_on_s3(s3_server, tmp_path):
    names = put_path_list(s3_server, "crawl/warc.paths.gz")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        workdir: {tmp_path / "out"}
        nodes:
          text:
            input:
              warc: {{paths: "{s3_server.uri("crawl/warc.paths.gz")}", prefix: "s3://{s3_server.bucket}/",
                      sample: 3, seed: 1}}
            steps: [{{extract: {{engine: resiliparse}}}}]
    """))
    spec = load_pipeline(str(pipeline))
    files = spec.nodes[0].input.files
    assert len(files) == 3 and all(f.startswith(f"s3://{s3_server.bucket}/sample/") for f in files)
    assert [f.rsplit("/", 1)[1] for f in files] == [n for n in names if n in {f.rsplit("/", 1)[1] for f in files}]
    assert run(pipeline) == {"text": 3}
    pipeline.write_text(pipeline.read_text().replace("seed: 1", "seed: 1, shard: 1/2"))
    with pytest.raises(ConfigError, match=r"shard: 1/2 is now `curate run --shard 1/2`"):
        load_pipeline(str(pipeline))


def curate_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", "run", *args, "--executor", "local"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_a_missing_bucket_is_one_line(s3_server, tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text('nodes:\n  text: {input: {warc: "s3://no-such-bucket/sample/*.warc.gz"}}\n')
    result = curate_run(str(pipeline), "--workdir", str(tmp_path / "out"))
    assert result.returncode in (1, 2) and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "s3://no-such-bucket/" in result.stderr


def test_a_missing_workdir_bucket_stops_the_run_before_any_work(s3_server, tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f'nodes:\n  text: {{input: {{warc: "{s3_server.uri("sample/sample-0000.warc.gz")}"}}}}\n')
    result = curate_run(str(pipeline), "--workdir", "s3://no-such-workdir-bucket/run")
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "s3://no-such-workdir-bucket/run" in result.stderr and "partitions to compute" not in result.stdout


def test_failures_on_s3_are_one_object_each(s3_server, tmp_path):
    """Nothing can be appended to an object: each failure is written once, as an object of its own (rewriting one
    log object with every line grows with the square of the failures)."""
    import json

    broken = tmp_path / "lid.bin"
    broken.write_bytes(b"not a fastText model")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f'nodes:\n  text:\n    input: {{warc: "{s3_server.uri("sample/sample-000*.warc.gz")}"}}\n'
                        f'    steps: [extract, {{langid: {{model: {broken}}}}}]\n')
    result = curate_run(str(pipeline), "--workdir", s3_server.uri("failing"))
    assert result.returncode == 1
    logged = s3_server.objects("failing/_failures/")
    assert len(logged) == 2 and all(name.endswith(".json") and "-text-" in name for name in logged)
    assert {json.loads(body)["node"] for body in logged.values()} == {"text"}


def test_an_unreachable_endpoint_is_one_line(s3_server, tmp_path):
    import os

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f'nodes:\n  text: {{input: {{warc: "{s3_server.uri("sample/sample-0000.warc.gz")}"}}}}\n')
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    result = curate_run(str(pipeline), "--workdir", s3_server.uri("unreachable"), env=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"s3://{s3_server.bucket}/" in result.stderr


def test_credentials_in_a_uri_are_refused(tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text('nodes:\n  text: {input: {warc: "s3://b/x.warc.gz?access_key=AKIA&secret_key=SHH"}}\n')
    result = curate_run(str(pipeline))
    assert result.returncode == 2 and "carries access_key, secret_key" in result.stderr
    assert "SHH" not in result.stderr and "AKIA" not in result.stderr
    workdir = curate_run(str(QUICKSTART), "--workdir", "s3://b/out?secret_key=SHH")
    assert workdir.returncode == 2 and "SHH" not in workdir.stdout + workdir.stderr
    userinfo = curate_run(str(QUICKSTART), "--workdir", "s3://AKIA:SHH@b/out")  # pyarrow would take them as keys
    assert userinfo.returncode == 2 and "carries credentials before '@'" in userinfo.stderr
    assert "SHH" not in userinfo.stdout + userinfo.stderr and "AKIA" not in userinfo.stdout + userinfo.stderr


@pytest.mark.parametrize("workdir", ["/tmp/ray/session_1/runtime_resources/working_dir_files/_ray_pkg_ab/out/q"])
def test_a_workdir_inside_rays_job_package_is_refused(workdir, tmp_path):
    result = curate_run(str(QUICKSTART), "--workdir", workdir)
    assert result.returncode == 2 and "inside the package Ray unpacked for this job" in result.stderr


def test_an_http_input_through_fsspec_gives_the_local_bytes(tmp_path):
    """A scheme pyarrow has no filesystem for (http/https: read-only) goes through fsspec."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SAMPLE_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outputs = {}
        for where, source in [("local", f"{SAMPLE_DIR}/sample-0001.warc.gz"),
                              ("http", f"http://127.0.0.1:{server.server_address[1]}/sample-0001.warc.gz")]:
            pipeline = tmp_path / f"{where}.yaml"
            pipeline.write_text(f'workdir: {tmp_path / where}\nnodes:\n  text: {{input: {{warc: "{source}"}}, '
                                'steps: [{extract: {engine: resiliparse}}]}\n')
            assert run(pipeline) == {"text": 1}
            outputs[where] = by_content(local_files(tmp_path / where))
    finally:
        server.shutdown()
    assert outputs["http"] == outputs["local"] and len(outputs["local"]["text/part-*"][0]) > 1000
