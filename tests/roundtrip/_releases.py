"""The official definitions of both pinned clarifai-grpc releases, read the official way.

Each release's FileDescriptorSet is committed under ``tools/descriptors/`` (made
by ``tools/descriptors.py`` from that release's own package); protobuf's
descriptor pool and message factory turn it into working message classes that
``json_format`` prints and parses exactly as the release's generated code would.
Nothing here comes from aioclarifai.
"""

from __future__ import annotations

import functools
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

__all__ = ["CURRENT", "RELEASES", "SEED", "Release", "release"]

_DIR = Path(__file__).resolve().parents[2] / "tools" / "descriptors"
#: The release the client follows, and the last one with all 50 seed operations.
CURRENT = "12.6.0"
SEED = "10.9.11"
RELEASES = (SEED, CURRENT)


class Release:
    """One release: its V2 service and message classes."""

    def __init__(self, version: str) -> None:
        self.version = version
        raw = (_DIR / f"clarifai-grpc-{version}.binpb").read_bytes()
        self.pool = descriptor_pool.DescriptorPool()
        for f in descriptor_pb2.FileDescriptorSet.FromString(raw).file:
            self.pool.Add(f)
        self.v2: ServiceDescriptor = self.pool.FindServiceByName("clarifai.api.V2")

    def method(self, name: str) -> MethodDescriptor | None:
        """A V2 method, if this release has it."""
        found: MethodDescriptor | None = self.v2.methods_by_name.get(name)
        return found

    def message(self, full_name: str) -> Descriptor:
        """A message descriptor by full name."""
        found: Descriptor = self.pool.FindMessageTypeByName(full_name)
        return found

    def message_class(self, descriptor: Descriptor) -> type[Message]:
        """The official class of ``descriptor`` in this release."""
        cls: type[Message] = GetMessageClass(descriptor)
        return cls

    def cls(self, name: str) -> type[Message]:
        """The official class of ``clarifai.api.<name>`` (``"MultiOutputResponse"``)."""
        return self.message_class(self.message(f"clarifai.api.{name}"))

    def __repr__(self) -> str:
        return f"<clarifai-grpc {self.version}>"


@functools.cache
def release(version: str) -> Release:
    """The (cached) definitions of ``version``."""
    return Release(version)
