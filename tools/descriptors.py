"""Snapshot the official Clarifai definitions of each pinned clarifai-grpc release.

Two releases matter (see ``RELEASES``): the newest, whose schema and operations
the client follows, and 10.9.11, the last one that still had all 50 seed
operations. They cannot be installed in one environment, so each release's
definitions are committed here, made from that release's own package:

* ``descriptors/clarifai-grpc-<release>.binpb`` — a serialized
  ``google.protobuf.FileDescriptorSet`` of every ``.proto`` file the V2 service
  needs (``google/api`` HTTP annotations and well-known types included), each
  file exactly as the release embeds it;
* ``descriptors/clarifai-grpc-<release>.docs.json`` — the proto comments, which
  the release ships only in its ``.pyi`` stubs (``Message`` and
  ``Message.field`` → text).

``tools/generate.py`` and the strict round-trip server (``tests/roundtrip``)
read only these files, so a fresh clone needs nothing but the dev extra.

``python tools/descriptors.py`` installs each release with pip into a
temporary directory of its own (``--no-deps``) and writes its two files;
``--check`` rebuilds them the same way and fails if a committed file differs.
To follow a newer release, change ``CURRENT`` (one pin), run this script and
then ``python tools/generate.py``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: The release the client follows. Regenerating for a newer one = changing this pin.
CURRENT = "12.6.0"
#: The last release with all 50 seed operations; operations it has and CURRENT
#: dropped are kept from here.
SEED = "10.9.11"
RELEASES = (SEED, CURRENT)

HERE = Path(__file__).resolve().parent
OUT = HERE / "descriptors"


def descriptor_path(release: str) -> Path:
    """The committed FileDescriptorSet of ``release``."""
    return OUT / f"clarifai-grpc-{release}.binpb"


def docs_path(release: str) -> Path:
    """The committed proto comments of ``release``."""
    return OUT / f"clarifai-grpc-{release}.docs.json"


# -- run inside an interpreter that imports the release ------------------------


def snapshot(release: str) -> tuple[bytes, str]:
    """(FileDescriptorSet bytes, docs JSON) of the clarifai-grpc importable here."""
    from importlib.metadata import version

    import clarifai_grpc
    from clarifai_grpc.grpc.api import service_pb2
    from clarifai_grpc.grpc.api.status import status_code_pb2
    from google.protobuf import descriptor_pb2

    got = version("clarifai-grpc")
    if got != release:
        raise SystemExit(f"expected clarifai-grpc {release}, imported {got}")
    ordered: list[object] = []
    seen: set[str] = set()

    def visit(fd: object) -> None:
        name: str = fd.name  # type: ignore[attr-defined]
        if name in seen:
            return
        seen.add(name)
        for dep in fd.dependencies:  # type: ignore[attr-defined]
            visit(dep)
        ordered.append(fd)  # dependencies first: a pool can add them in this order

    visit(service_pb2.DESCRIPTOR)
    visit(status_code_pb2.DESCRIPTOR)
    fds = descriptor_pb2.FileDescriptorSet()
    for fd in ordered:
        # The exact bytes the release embeds, options (the HTTP rules) included.
        fds.file.add().MergeFromString(fd.serialized_pb)  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    base = Path(clarifai_grpc.__file__).parent
    for stub in sorted(base.rglob("*_pb2.pyi")):
        for node in ast.parse(stub.read_text()).body:
            if isinstance(node, ast.ClassDef):
                _collect_class_docs(node, "", docs)
    text = json.dumps(docs, indent=0, sort_keys=True, ensure_ascii=False) + "\n"
    return fds.SerializeToString(deterministic=True), text


def _collect_class_docs(cls: ast.ClassDef, outer: str, docs: dict[str, str]) -> None:
    name = f"{outer}{cls.name}"
    doc = ast.get_docstring(cls)
    if doc:
        docs[name] = doc
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.ClassDef):
            _collect_class_docs(node, f"{name}.", docs)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            nxt = body[i + 1] if i + 1 < len(body) else None
            if (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[f"{name}.{node.target.id}"] = nxt.value.value
        elif isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        ):
            fdoc = ast.get_docstring(node)
            if fdoc:
                docs[f"{name}.{node.name}"] = fdoc


# -- the driver -----------------------------------------------------------------


def build(release: str, workdir: Path) -> tuple[bytes, str]:
    """Install ``release`` alone into ``workdir`` and snapshot it in a child interpreter."""
    target = workdir / release
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         f"clarifai-grpc=={release}"],
        check=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(HERE)])}
    out = workdir / f"{release}.out"
    code = (
        "import sys, descriptors; from pathlib import Path; "
        f"b, d = descriptors.snapshot({release!r}); "
        f"Path({str(out)!r}).write_bytes(b); Path({str(out)!r} + '.json').write_text(d)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=workdir)
    return out.read_bytes(), Path(f"{out}.json").read_text()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the committed definitions of every release."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    parser.add_argument("releases", nargs="*", default=list(RELEASES))
    args = parser.parse_args(argv)
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for release in args.releases:
            blob, docs = build(release, Path(tmp))
            pb, dj = descriptor_path(release), docs_path(release)
            if args.check:
                stale += [p for p, new in ((pb, blob), (dj, docs.encode())) if
                          not p.exists() or p.read_bytes() != new]  # fmt: skip
            else:
                OUT.mkdir(exist_ok=True)
                pb.write_bytes(blob)
                dj.write_text(docs)
                print(f"wrote {pb.relative_to(HERE.parent)} and {dj.name}")
    for p in stale:
        print(f"differs from its release: {p.relative_to(HERE.parent)}", file=sys.stderr)
    if args.check and not stale:
        print(f"descriptor sets match their releases ({', '.join(args.releases)})")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
