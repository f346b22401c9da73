"""curate/storage.py: URIs joined and split as paths are, globs that mean what the shell means, atomic writes."""

from __future__ import annotations

from collections import Counter

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from curate import storage
from curate.config import load_pipeline
from curate.dag import run_pipeline
from curate.executors.local import LocalExecutor
from tests.warc_factory import SAMPLE_DIR


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("*.warc.gz", "a.warc.gz", True),
    ("*.warc.gz", "sub/a.warc.gz", False),  # `*` stays within one folder
    ("**/*.warc.gz", "a.warc.gz", True),
    ("**/*.warc.gz", "x/y/a.warc.gz", True),
    ("crawl/*/warc/*.gz", "crawl/s1/warc/f.gz", True),
    ("crawl/*/warc/*.gz", "crawl/s1/wet/f.gz", False),
    ("part-0000[0-4].gz", "part-00003.gz", True),
    ("part-0000[!0-4].gz", "part-00003.gz", False),
    ("f?.gz", "f1.gz", True),
    ("f?.gz", "f/.gz", False),
])
def test_glob_regex_reads_globs_as_the_shell_does(pattern, path, matches):
    assert bool(storage.glob_regex(pattern).fullmatch(path)) is matches


def test_local_glob_and_uri_glob_agree(tmp_path, s3_server):
    for rel in ("a/x.gz", "a/y.txt", "a/b/z.gz", "c.gz"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(rel.encode())
        s3_server.upload(tmp_path / rel, f"globs/{rel}")
    for pattern in ("a/*.gz", "**/*.gz", "a/**/*.gz", "*.gz"):
        local = [storage.relative(p, str(tmp_path)) for p in storage.glob(f"{tmp_path}/{pattern}")]
        remote = [p.split("/globs/", 1)[1] for p in storage.glob(s3_server.uri(f"globs/{pattern}"))]
        assert remote == local, pattern


def test_join_basename_dirname_relative():
    assert storage.join("s3://b/out", "text", "p.parquet") == "s3://b/out/text/p.parquet"
    assert storage.join("s3://b/out?anonymous=true", "x") == "s3://b/out/x?anonymous=true"
    assert storage.basename("s3://b/out/p.parquet") == "p.parquet"
    assert storage.dirname("s3://b/out/p.parquet") == "s3://b/out"
    assert storage.relative("s3://b/out/x/y", "s3://b/out") == "x/y"
    assert storage.join("/data", "x") == "/data/x" and not storage.is_uri("file:///data/x")


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "f.bin"
    with pytest.raises(RuntimeError), storage.atomic_output(str(target)) as handle:
        handle.write(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    storage.write_bytes(str(target), b"whole")
    assert target.read_bytes() == b"whole" and storage.written_digest(str(target))[0] == 5


class FlakyFileSystem(MemoryFileSystem):
    """fsspec's in-memory filesystem answering every other read of a file with a throttling error, as S3 does with
    503 SlowDown under load: a fault injected where the network would cause it."""

    protocol = "flaky"
    reads: Counter[str] = Counter()

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(path.replace("flaky://", "memory://", 1))

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            self.reads[path] += 1
            if self.reads[path] % 2:
                raise OSError("503 SlowDown: Please reduce your request rate. (503)")
        return super()._open(path, mode, **kwargs)


def test_transient_errors_are_retried_and_counted(tmp_path):
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    FlakyFileSystem.reads.clear()
    FlakyFileSystem().pipe("/sample/sample-0001.warc.gz", (SAMPLE_DIR / "sample-0001.warc.gz").read_bytes())
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f'workdir: {tmp_path / "out"}\nnodes:\n  text: {{input: {{warc: '
                        '"flaky://sample/sample-0001.warc.gz"}, steps: [{extract: {engine: resiliparse}}]}\n')
    with LocalExecutor() as executor:
        reports = run_pipeline(load_pipeline(str(pipeline)), executor, log=lambda line: None)
    reader = reports[0].stages[0]
    assert reader.events["storage_retry"] >= 1 and reader.kept > 10 and not reader.failed


def test_an_error_that_stays_is_one_line_naming_the_uri():
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)

    def always_throttled(*args, **kwargs):
        raise OSError("503 SlowDown (503)")

    FlakyFileSystem().pipe("/x/y", b"data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FlakyFileSystem, "_open", always_throttled)
        patch.setattr(storage, "RETRY_BASE_S", 0.0)
        before = storage.RETRIES["storage_retry"]
        with pytest.raises(storage.StorageError, match=r"^flaky://x/y: 503 SlowDown"):
            storage.read_bytes("flaky://x/y")
        assert storage.RETRIES["storage_retry"] - before == storage.MAX_ATTEMPTS - 1
