"""Where batch inputs come from and results go: local paths, ``-``, or any fsspec URL.

- ``-`` is stdin (input) or stdout (output);
- a plain path or ``file://`` URL is a local file;
- anything else with a ``scheme://`` goes through `fsspec <https://filesystem-spec.readthedocs.io>`_
  (the optional ``storage`` extra, imported only then): ``http(s)://`` to read,
  ``s3://``, ``gs://``, ``az://``/``abfs://`` to read and write once the user
  has installed s3fs, gcsfs or adlfs, ``memory://`` in tests. fsspec is used
  rather than hand-written clients because it is the interface pandas, Dask
  and Ray already use for the same URLs, credentials included.

**Resume and remote outputs.** A local JSONL or CSV output is appended to
(after cutting a torn last line). Object stores cannot append: their objects
are written whole and appear when the writer closes. So ``--resume`` on a
remote output, or on a Parquet file anywhere, *rewrites* it: the records
already there are copied into the new object first, then the job goes on.
The old object stays in place until the new one is complete, so a job killed
without a clean stop loses only that run's new records, and a rerun with
``--resume`` does them again. Stores that cannot be written at all
(``http(s)://``) are refused before any work starts.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Any, cast

__all__ = [
    "STDIO",
    "StorageError",
    "check_input",
    "check_output",
    "exists",
    "is_local",
    "is_stdio",
    "local_path",
    "open_input",
    "open_output",
]

STDIO = "-"
_READ_ONLY = ("http", "https")


class StorageError(ValueError):
    """A path that cannot be used as asked (missing, not writable, extra not installed)."""


def is_stdio(path: str) -> bool:
    """``-``: stdin or stdout."""
    return path == STDIO


def is_local(path: str) -> bool:
    """A local file: a plain path or a ``file://`` URL (not ``-``)."""
    return path != STDIO and ("://" not in path or path.startswith("file://"))


def local_path(path: str) -> str:
    """The file-system path of a local ``path`` (``file://`` removed)."""
    return path.removeprefix("file://")


def _filesystem(path: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise StorageError(
            f"{path} needs fsspec: pip install 'aioclarifai[storage]' "
            "(and s3fs, gcsfs or adlfs for s3://, gs://, az://)"
        ) from None
    try:
        fs, inner = url_to_fs(path)
    except (ImportError, ValueError) as exc:
        # An unknown protocol, or its package (s3fs, gcsfs, ...) is missing.
        raise StorageError(f"cannot use {path}: {exc}") from None
    return fs, str(inner)


def filesystem(path: str) -> tuple[Any, str]:
    """The fsspec filesystem of a URL and the path within it (``StorageError`` without fsspec)."""
    return _filesystem(path)


def exists(path: str) -> bool:
    """Whether ``path`` exists and holds something (stdout never does)."""
    if is_stdio(path):
        return False
    if is_local(path):
        local = local_path(path)
        return os.path.exists(local) and os.path.getsize(local) > 0
    fs, inner = _filesystem(path)
    return bool(fs.exists(inner)) and (fs.size(inner) or 0) > 0


def check_input(path: str) -> None:
    """``StorageError`` unless ``path`` can be read."""
    if is_stdio(path):
        return
    if is_local(path):
        if not os.path.isfile(local_path(path)):
            raise StorageError(f"no such input file: {path}")
        return
    fs, inner = _filesystem(path)
    try:
        found = fs.exists(inner)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from None
    if not found:
        raise StorageError(f"no such input: {path}")


def check_output(path: str) -> None:
    """``StorageError`` unless ``path`` can be written."""
    if is_stdio(path):
        return
    if is_local(path):
        out_dir = os.path.dirname(os.path.abspath(local_path(path)))
        if not os.path.isdir(out_dir):
            raise StorageError(f"no such directory for the output: {out_dir}")
        return
    fs, _ = _filesystem(path)
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if set(protocols) & set(_READ_ONLY):
        raise StorageError(
            f"cannot write results to {path}: http(s) is read-only; write to a local path, "
            "-, s3://, gs:// or az://"
        )


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """``path`` opened for binary reading (stdin is not closed afterwards)."""
    if is_stdio(path):
        yield sys.stdin.buffer
    elif is_local(path):
        with open(local_path(path), "rb") as f:
            yield f
    else:
        fs, inner = _filesystem(path)
        with fs.open(inner, "rb") as f:
            yield f


def open_output(path: str, *, append: bool = False) -> IO[bytes]:
    """``path`` opened for binary writing; ``append`` only for a local file.

    Closing it commits a remote object; stdout stays open when the returned
    wrapper is closed.
    """
    if is_stdio(path):
        return cast("IO[bytes]", _Stdout())
    if is_local(path):
        return open(local_path(path), "ab" if append else "wb")
    if append:
        raise StorageError(f"{path}: an object store cannot append (see resume above)")
    fs, inner = _filesystem(path)
    f: IO[bytes] = fs.open(inner, "wb")
    return f


class _Stdout(io.RawIOBase):
    """stdout's bytes, left open when this is closed (the summary is printed after)."""

    def __init__(self) -> None:
        super().__init__()
        self._position = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        # Parquet's writer asks where it is; a pipe cannot seek, so count.
        return self._position

    def write(self, data: Any) -> int:
        written = sys.stdout.buffer.write(data)
        self._position += written
        return written

    def flush(self) -> None:
        sys.stdout.buffer.flush()
