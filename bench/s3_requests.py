"""Object-storage requests a pipeline makes, counted by a real S3 API server (moto, on 127.0.0.1) that records every
request it serves (moto's recorder: the method, URL and headers of each).

bench/cost_model.py runs its pipeline this way, inputs and workdir on the server, once from scratch and once again
fully reused, and extrapolates the counts to a snapshot. Requests are what object stores bill besides storage (S3
prices PUT, COPY, POST and LIST per 1,000 requests at 12.5 times GET and HEAD), and at crawl scale their latency,
not bandwidth, is what a worker waits on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from common import ROOT

sys.path.insert(0, str(ROOT))
from tests.services import S3Server, s3_server_running  # noqa: E402

KINDS = ("GET", "HEAD", "LIST", "PUT", "POST", "DELETE")


# S3 Standard, us-east-1, dollars per 1,000 requests (aws.amazon.com/s3/pricing, "Requests & data retrievals"):
# PUT, COPY, POST and LIST at one rate, GET, HEAD and the others at another; DELETE is free.
PRICE_PER_1000 = {"PUT": 0.005, "POST": 0.005, "LIST": 0.005, "GET": 0.0004, "HEAD": 0.0004, "DELETE": 0.0}


def request_kind(method: str, url: str) -> str:
    """What S3 bills a recorded request as. Example: ("GET", "http://h/b/k") -> "GET"; ("GET",
    "http://h/b?list-type=2&prefix=p") -> "LIST"; ("PUT", "http://h/b/k?partNumber=1&uploadId=x") -> "PUT" (a part
    of a multipart upload); ("POST", "http://h/b/k?uploads") -> "POST" """
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    if method == "GET" and (not request_key(url) or "list-type" in query):
        return "LIST"
    return method if method in KINDS else "other"


def request_key(url: str) -> str:
    """The object key of a path-style request (what pyarrow and boto3 send to an endpoint URL).
    Example: "http://h:5000/bucket/corpus/a.warc.gz?x=1" -> "corpus/a.warc.gz" """
    return urlsplit(url).path.lstrip("/").partition("/")[2]


@dataclass
class Requests:
    """Requests of one run by (kind, where: "input" for keys under the inputs' prefix, else "workdir"), and the
    bytes uploaded."""

    counts: Counter[tuple[str, str]]
    uploaded_bytes: int

    @classmethod
    def from_recording(cls, path: Path, input_prefix: str) -> Requests:
        counts: Counter[tuple[str, str]] = Counter()
        uploaded = 0
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                entry = json.loads(line)
                where = "input" if request_key(entry["url"]).startswith(input_prefix) else "workdir"
                counts[(request_kind(entry["method"], entry["url"]), where)] += 1
                if entry["method"] == "PUT":  # pyarrow streams bodies (aws-chunked): their size is in a header
                    headers = {name.lower(): value for name, value in entry.get("headers", {}).items()}
                    uploaded += int(headers.get("x-amz-decoded-content-length") or headers.get("content-length") or 0)
        return cls(counts, uploaded)


@contextmanager
def recording_server() -> Iterator[tuple[S3Server, Path]]:
    """moto's S3 server with its recorder on, and the file it records into."""
    folder = Path(tempfile.mkdtemp(prefix="curate-requests-"))
    recording = folder / "requests.jsonl"
    os.environ.update(MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(recording))
    try:
        with s3_server_running() as server:
            yield server, recording
    finally:
        for name in ("MOTO_ENABLE_RECORDING", "MOTO_RECORDER_FILEPATH"):
            os.environ.pop(name, None)


def _recorder(server: S3Server, action: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/moto-api/recorder/{action}",
                                                  method="POST"), timeout=30).read()


def count_requests(server: S3Server, recording: Path, pipeline: Path, workdir: str, input_prefix: str,
                   workers: int = 2) -> Requests:
    """Run `pipeline` into `workdir` (its inputs already on `server`, under `input_prefix`) with the local process
    pool; the requests the run made."""
    _recorder(server, "reset-recording")
    subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--executor", "local", "--workers",
                    str(workers), "--workdir", workdir], cwd=ROOT, env={**os.environ, **server.env}, check=True,
                   capture_output=True)
    return Requests.from_recording(recording, input_prefix)
