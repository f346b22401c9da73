"""Every path is a URI: local paths, `file://`, `s3://`, `gs://` through pyarrow's filesystems, and what fsspec knows
where pyarrow has no filesystem (`hf://`, read-only `https://`). No storage client is written here; this module only
names the few operations curate needs, so that no other module touches `os` or `open` for data files (dag.py removes
a killed attempt's temporary files from local folders itself: object stores have none).

Credentials and endpoints come from where the libraries look: the environment (`AWS_ACCESS_KEY_ID`,
`AWS_ENDPOINT_URL`, `AWS_PROFILE`...), the AWS config and credentials files, instance metadata. A public bucket is
read with `?anonymous=true` on its URI (pyarrow's option) or `CURATE_S3_ANONYMOUS=1`. Nothing here writes a
credential anywhere: URIs are logged and hashed as the user wrote them.

Writes are atomic per file: a local file is written under a unique hidden name and renamed into place; an object is
uploaded directly, and becomes visible only when its upload completes (S3 and GCS have no rename). Commit records,
written last, make a set of files a unit (curate/commit.py).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import posixpath
import re
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from curate.errors import CurateError

T = TypeVar("T")
TEMP_MARK = ".tmp-"
# Schemes pyarrow opens itself; any other scheme goes through fsspec (hf://, https://, memory:// in tests).
PYARROW_SCHEMES = ("s3", "gs", "gcs")
COPY_BLOCK = 8 << 20


class StorageError(CurateError):
    """A URI that cannot be read or written: a missing bucket or key, bad credentials, an unreachable endpoint."""


def is_uri(path: str) -> bool:
    """True for `scheme://...` other than file://. Example: is_uri("s3://b/k") -> True; is_uri("/data") -> False"""
    return "://" in path and not path.startswith("file://")


def local_path(path: str) -> str:
    """A local path without its file:// prefix. Example: local_path("file:///data/x") -> "/data/x" """
    return path[len("file://"):] if path.startswith("file://") else path


@functools.lru_cache(maxsize=None)
def _filesystem(scheme: str, netloc: str, query: str) -> pafs.FileSystem:
    if scheme in PYARROW_SCHEMES:
        options = [query] if query else []
        if os.environ.get("CURATE_S3_ANONYMOUS") == "1" and scheme == "s3" and "anonymous" not in query:
            options.append("anonymous=true")
        if scheme == "s3" and "allow_delayed_open" not in query:
            # An object smaller than a multipart part is then written with one PutObject instead of three requests
            # (create, upload a part, complete: two of them POSTs, billed as PUTs); counted with bench/cost_model.py
            # --requests. The cost: a write's error (a missing bucket) surfaces when the file is closed, still
            # inside the call that writes it.
            options.append("allow_delayed_open=true")
        return pafs.FileSystem.from_uri(f"{scheme}://{netloc}/" + ("?" + "&".join(options) if options else ""))[0]
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    return PyFileSystem(FSSpecHandler(fsspec.filesystem(scheme)))


# URI options that carry secrets: pyarrow accepts them, but a URI is logged, hashed and written into commit records.
SECRET_OPTIONS = ("access_key", "secret_key", "session_token")


def check_no_secret(uri: str) -> None:
    """StorageError when a URI carries credentials (they belong in the environment or the AWS config files)."""
    if not is_uri(uri):
        return
    parts = urlsplit(uri)
    if "@" in parts.netloc:  # s3://KEY:SECRET@bucket/...: pyarrow reads userinfo as the access key and secret
        raise StorageError(f"{parts.scheme}://***@{parts.netloc.rsplit('@', 1)[1]}{parts.path}: the URI carries "
                           "credentials before '@'; put them in the environment (AWS_ACCESS_KEY_ID, "
                           "AWS_SECRET_ACCESS_KEY) or an AWS profile instead, so that they are never written into "
                           "logs, outputs or hashes")
    named = [option for option in SECRET_OPTIONS if f"{option}=" in parts.query]
    if named:
        raise StorageError(f"{uri.split('?')[0]}: the URI carries {', '.join(named)}; put credentials in the "
                           "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or an AWS profile instead, so "
                           "that they are never written into logs, outputs or hashes")


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding `path` and the path within it (for S3: "bucket/key")."""
    if not is_uri(path):
        return pafs.LocalFileSystem(), os.path.abspath(local_path(path))
    check_no_secret(path)
    parts = urlsplit(path)
    if parts.scheme in PYARROW_SCHEMES:
        inner = (parts.netloc + parts.path).rstrip("/")
    else:
        inner = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return _filesystem(parts.scheme, parts.netloc, parts.query), inner


def join(base: str, *names: str) -> str:
    """Example: join("s3://b/out", "text", "part.parquet") -> "s3://b/out/text/part.parquet" """
    if not is_uri(base):
        return os.path.join(base, *names)
    parts = urlsplit(base)
    path = posixpath.join(parts.path or "/", *names)
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def basename(path: str) -> str:
    return posixpath.basename(urlsplit(path).path) if is_uri(path) else os.path.basename(path)


def dirname(path: str) -> str:
    if not is_uri(path):
        return os.path.dirname(path)
    parts = urlsplit(path)
    return f"{parts.scheme}://{parts.netloc}{posixpath.dirname(parts.path)}" + (
        f"?{parts.query}" if parts.query else "")


def relative(path: str, root: str) -> str:
    """`path` relative to the folder `root`. Example: relative("s3://b/out/x/y", "s3://b/out") -> "x/y" """
    if not is_uri(path):
        return os.path.relpath(path, root)
    return posixpath.relpath(urlsplit(path).path, urlsplit(root).path or "/")


def absolute(path: str) -> str:
    """A local path made absolute; a URI as it is."""
    return path if is_uri(path) else os.path.abspath(local_path(path))


# Errors worth another try on object storage: throttling, timeouts, 5xx answers (the retryable errors of AWS's
# retry guide). A refused connection, a missing key or a denied credential answers the same way again: no retry.
TRANSIENT_MARKERS = ("slowdown", "throttl", "timed out", "timeout", "internalerror", "serviceunavailable",
                     "reset by peer", "(500)", "(503)", "status 500", "status 503")
MAX_ATTEMPTS = 4
RETRY_BASE_S = 0.2  # then 0.4, 0.8: under 1.5 s of waiting before an error is final
# Retries made by this process, by kind; the partition that caused them records them in its stats.
RETRIES: Counter[str] = Counter()


def is_transient(error: OSError) -> bool:
    message = str(error).lower()
    return any(marker in message for marker in TRANSIENT_MARKERS)


def _call(path: str, operation: Callable[[], T]) -> T:
    """`operation()`, its storage errors as one line naming the URI (a missing bucket, a refused credential, no
    endpoint), and its transient errors on object storage tried again, at most MAX_ATTEMPTS times in all, with
    exponential backoff; each retry is counted in RETRIES."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return operation()
        except FileNotFoundError:
            raise
        except OSError as error:
            if not is_uri(path):
                raise
            if attempt + 1 < MAX_ATTEMPTS and is_transient(error):
                RETRIES["storage_retry"] += 1
                time.sleep(RETRY_BASE_S * 2**attempt)
                continue
            raise StorageError(f"{path}: {' '.join(str(error).split())[:300]}") from None
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextlib.contextmanager
def _errors(path: str) -> Iterator[None]:
    """Storage errors of a write as one line naming the URI (a stream cannot be tried again from here; pyarrow's
    S3 client retries the requests of an upload itself)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as error:
        if not is_uri(path):
            raise
        raise StorageError(f"{path}: {' '.join(str(error).split())[:300]}") from None


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int | None


# Response headers that name an object's version: S3's ETag (the MD5 of a single-part upload, a hash of the parts'
# hashes for a multipart one; any write gives a new one) and GCS's generation (a new number at each write).
VERSION_HEADERS = ("x-goog-generation", "ETag")


def object_version(path: str) -> str | None:
    """What the object store says identifies this version of the object at `path`, from its metadata alone (one
    HEAD request, no byte of content); None for a local file, or where the store gives none."""
    parts = urlsplit(path) if is_uri(path) else None
    if parts is None or parts.scheme not in PYARROW_SCHEMES:
        return None
    fs, inner = resolve(path)

    def head() -> dict[str, bytes]:
        with fs.open_input_file(inner) as handle:
            return dict(handle.metadata())

    metadata = _call(path, head)
    for header in VERSION_HEADERS:
        if metadata.get(header):
            return f"{header}:{metadata[header].decode(errors='replace').strip(chr(34))}"
    return None


def stat(path: str) -> FileStat | None:
    """Size and modification time of a file, or None when there is none."""
    fs, inner = resolve(path)
    info = _call(path, lambda: fs.get_file_info(inner))
    if info.type != pafs.FileType.File:
        return None
    return FileStat(info.size, info.mtime_ns)


def exists(path: str) -> bool:
    fs, inner = resolve(path)
    return _call(path, lambda: fs.get_file_info(inner)).type != pafs.FileType.NotFound


def is_file(path: str) -> bool:
    return stat(path) is not None


def open_input(path: str) -> Any:
    """A seekable binary file (pyarrow's RandomAccessFile: reads ranges of an object, never the whole of it)."""
    fs, inner = resolve(path)
    return _call(path, lambda: fs.open_input_file(inner))


def read_bytes(path: str) -> bytes:
    fs, inner = resolve(path)

    def read() -> bytes:
        with fs.open_input_file(inner) as handle:
            return handle.read()

    return _call(path, read)


def read_range(path: str, offset: int, length: int) -> bytes:
    fs, inner = resolve(path)

    def read() -> bytes:
        with fs.open_input_file(inner) as handle:
            return handle.read_at(length, offset)

    return _call(path, read)


def temp_path(path: str) -> str:
    """A hidden local name beside `path`, unique to this attempt, to write to before renaming into place."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def is_temp(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


class _DigestingWriter(io.RawIOBase):
    """Passes writes through to `stream`, counting and hashing them: a commit record then needs no second read of
    what this process just wrote (on object storage, a second download)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.size, self.digest = stream, 0, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.stream.write(view)
        self.digest.update(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size


# (path -> size and SHA-256) of the files this process wrote whole; commit records take them from here.
_written: dict[str, tuple[int, str]] = {}


def written_digest(path: str) -> tuple[int, str] | None:
    """Size and SHA-256 of `path` if this process wrote it and it has not changed size since, else None. Asked
    once per file (by its commit), so the entry is dropped: a worker that writes many files keeps none."""
    known = _written.pop(path, None)
    found = stat(path) if known else None
    return known if known and found and found.size == known[0] else None


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[Any]:
    """A binary stream whose content appears at `path` whole, or not at all, when the block ends without error."""
    if not is_uri(path):
        target = local_path(path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        tmp = temp_path(target)
        try:
            with open(tmp, "wb") as handle:
                writer = _DigestingWriter(handle)
                yield writer
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        fs, inner = resolve(path)
        with _errors(path), fs.open_output_stream(inner) as stream:
            writer = _DigestingWriter(stream)
            yield writer
    _written[path] = (writer.size, writer.digest.hexdigest())


def write_bytes(path: str, data: bytes) -> None:
    with atomic_output(path) as handle:
        handle.write(data)


def upload(local_file: str, path: str) -> None:
    """Copy a local file to `path`, atomically."""
    with open(local_file, "rb") as source, atomic_output(path) as target:
        shutil.copyfileobj(source, target, COPY_BLOCK)


def copy(source: str, target: str) -> None:
    with open_input(source) as reader, atomic_output(target) as writer:
        shutil.copyfileobj(reader, writer, COPY_BLOCK)


def move(source: str, target: str) -> None:
    """Move a file: a rename on local disk (atomic), the filesystem's move elsewhere (on S3, a server-side copy and a
    delete: the target appears whole or not at all)."""
    if not is_uri(source) and not is_uri(target):
        os.makedirs(os.path.dirname(local_path(target)) or ".", exist_ok=True)
        os.replace(local_path(source), local_path(target))
        return
    fs, inner_source = resolve(source)
    _, inner_target = resolve(target)
    _call(source, lambda: fs.move(inner_source, inner_target))


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open_input(path) as handle:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def makedirs(path: str) -> None:
    """Create a local folder; object stores have no folders to create."""
    if not is_uri(path):
        os.makedirs(local_path(path), exist_ok=True)


def remove(path: str) -> None:
    fs, inner = resolve(path)
    _call(path, lambda: fs.delete_file(inner))


def rmtree(path: str) -> None:
    """Delete a folder and everything under it; nothing when it does not exist."""
    fs, inner = resolve(path)
    if _call(path, lambda: fs.get_file_info(inner)).type != pafs.FileType.NotFound:
        _call(path, lambda: fs.delete_dir(inner))


def list_files(root: str) -> list[str]:
    """Every file under the folder `root`, as sorted paths relative to it; [] when it does not exist."""
    fs, inner = resolve(root)
    infos = _call(root, lambda: fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True)))
    prefix = inner.rstrip("/") + "/"
    return sorted(i.path[len(prefix):] for i in infos if i.type == pafs.FileType.File and i.path.startswith(prefix))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated paths, as the shell reads it: `*` and `?` stay within one folder, `**/`
    crosses any number of them, `[...]` is a class.

    Example: glob_regex("a/**/*.gz").fullmatch("a/b/c/x.gz") matches; glob_regex("a/*.gz").fullmatch("a/b/x.gz")
    does not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def glob(pattern: str) -> list[str]:
    """The files matching a glob (`*`, `?`, `[...]`, `**/` across folders), sorted; on object storage too, where
    the longest folder prefix without a wildcard is listed once and matched against the pattern."""
    if not is_uri(pattern):
        import glob as local_glob

        return sorted(m for m in local_glob.glob(local_path(pattern), recursive=True) if os.path.isfile(m))
    parts = urlsplit(pattern)
    segments = parts.path.lstrip("/").split("/")
    fixed = next((i for i, segment in enumerate(segments) if any(c in segment for c in "*?[")), len(segments))
    base = f"{parts.scheme}://{parts.netloc}/" + "/".join(segments[:fixed])
    root = base.rstrip("/") + (f"?{parts.query}" if parts.query else "")
    wanted = glob_regex("/".join(segments[fixed:]))
    return sorted(join(root, rel) for rel in list_files(root) if wanted.fullmatch(rel))


@contextlib.contextmanager
def local_file(path: str) -> Iterator[str]:
    """A local path to the content of `path`: the file itself when local, else a temporary copy streamed to the
    worker's disk in blocks (a 1 GB WARC never sits in memory), deleted when the block ends."""
    if not is_uri(path):
        yield local_path(path)
        return
    with tempfile.TemporaryDirectory(prefix="curate-") as folder:
        target = os.path.join(folder, basename(path) or "object")
        with open_input(path) as reader, open(target, "wb") as writer:
            shutil.copyfileobj(reader, writer, COPY_BLOCK)
        yield target


@functools.lru_cache(maxsize=32)
def _cached_copy(path: str, size: int, mtime_ns: int | None) -> str:
    folder = tempfile.mkdtemp(prefix="curate-model-")
    target = os.path.join(folder, basename(path))
    with open_input(path) as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, COPY_BLOCK)
    return target


def cached_local_copy(path: str) -> str:
    """A local path to a model file, downloaded once per worker process and version (size, mtime) when remote:
    fastText and KenLM load models from local files only."""
    if not is_uri(path):
        return local_path(path)
    found = stat(path)
    if found is None:
        raise FileNotFoundError(f"no such file: {path}")
    return _cached_copy(path, found.size, found.mtime_ns)


@contextlib.contextmanager
def open_text(path: str) -> Iterator[IO[str]]:
    """A text stream (UTF-8) over a file, gunzipped when its name ends with .gz."""
    with open_binary(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8")


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[Any]:  # a binary file object: a local file, an object stream or a gunzipper
    """A binary stream over a file, gunzipped when its name ends with .gz; closed, both layers, with the block."""
    import gzip

    with (open_input(path) if is_uri(path) else open(local_path(path), "rb")) as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped
        else:
            yield raw
