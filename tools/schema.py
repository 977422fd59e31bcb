"""The model the generator renders: two releases' definitions as one schema.

Reads the committed descriptor sets of ``tools/descriptors.py`` (never an
installed clarifai-grpc) and builds:

* the **union schema** — every message, field and enum value of either
  release; where both define a field or an enum value, the current release's
  definition wins (fields only the seed release had are kept after the current
  ones);
* the **operations** — every V2 method of the current release with a REST
  binding (the client-streaming ones have none a client can use), plus the seed
  operations the current release dropped, taken from the seed release.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from descriptors import CURRENT, SEED, descriptor_path, docs_path
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, MethodDescriptor

__all__ = [
    "APP_PREFIX",
    "SEED_OPERATIONS",
    "Binding",
    "Operation",
    "Release",
    "Schema",
    "load_operations",
    "load_release",
    "python_name",
    "snake",
]

# The 50 operations the client first covered (proto method names); 15 of them
# are gone from the current release and are kept, as they were, from SEED.
SEED_OPERATIONS = (
    "PutModelVersionExports", "ListModelInputs", "GetModelVersionMetrics",
    "PostModelVersionMetrics", "GetModelOutputInfo", "PostModelOutputs",
    "GenerateModelOutputs", "DeleteModules", "ListModules", "PatchModules",
    "PostModules", "GetModule", "DeleteModuleVersions", "ListModuleVersions",
    "PatchModuleVersions", "PostModuleVersions", "GetModuleVersion",
    "GetModuleVersionUsageCount", "MyScopes", "GetResourceCounts",
    "ListSearches", "PatchSearches", "PostSearches", "DeleteSearch", "GetSearch",
    "PostSearchesByID", "PostStatValues", "PostStatValuesAggregate",
    "PatchAnnotationsStatus", "DeleteTasks", "ListTasks", "PatchTasks",
    "PostTasks", "GetTask", "GetTaskAnnotationCount", "ListNextTaskAssignments",
    "PutTaskAssignments", "GetTaskInputCount", "GetInputSamples",
    "ListTrendingMetricsViews", "PostTrendingMetricsView", "DeleteUploads",
    "ListUploads", "PostUploads", "GetUpload", "PutUploadContentParts",
    "DeleteWorkflows", "ListWorkflows", "PatchWorkflows", "PostWorkflows",
)  # fmt: skip

# Idempotency. Get/List/Delete/Patch and the other verbs are safe to repeat.
# Post and Put create or append, so they are retried only when the request
# surely was not processed (see aioclarifai._retry) — except these, which only
# read, search, predict or export:
READ_ONLY_POSTS = frozenset(
    {
        "PostModelOutputs", "PostWorkflowResults", "PostWorkflowResultsSimilarity",
        "PostSearchesByID", "PostStatValuesAggregate", "PostValidatePassword",
        "PutModelVersionExports", "PutDatasetVersionExports",
        "PostModelVersionsTrainingTimeEstimate", "PostComputePlaneMetrics",
        "PostRunnerReplicaTaskMetrics", "PostMetricsQuery",
    }
)  # fmt: skip
# ``Post…Searches`` are queries too, but PostSearches may save the search it runs.
CREATING_SEARCHES = frozenset({"PostSearches"})

#: Bindings scoped to one app of a user; the client's defaults fill the ids.
APP_PREFIX = "/v2/users/{user_app_id.user_id}/apps/{user_app_id.app_id}"
USER_PREFIX = "/v2/users/{user_app_id.user_id}"

#: The list a paginated operation walks when its response has several: a search's
#: ``hits``, except where named here.
PAGE_ITEMS = {"ListSearches": "searches"}


def python_name(full_name: str) -> str:
    """Clarifai's name for a message or enum; nested ones as ``Outer_Inner``."""
    for prefix in ("clarifai.api.status.", "clarifai.api.utils.", "clarifai.api."):
        if full_name.startswith(prefix):
            return full_name[len(prefix) :].replace(".", "_")
    return full_name.replace(".", "_")


def snake(name: str) -> str:
    """``PostSearchesByID`` → ``post_searches_by_id``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.replace("ByID", "ById")).lower()


# -- releases ---------------------------------------------------------------------


@dataclass
class Release:
    """One clarifai-grpc release's definitions, from its committed descriptor set."""

    version: str
    pool: descriptor_pool.DescriptorPool
    files: list[descriptor_pb2.FileDescriptorProto]
    docs: dict[str, str]

    @property
    def service(self) -> object:
        """The V2 service descriptor."""
        return self.pool.FindServiceByName("clarifai.api.V2")

    def method(self, name: str) -> MethodDescriptor | None:
        """A V2 method by name, if this release has it."""
        methods: dict[str, MethodDescriptor] = self.service.methods_by_name  # type: ignore[attr-defined]
        return methods.get(name)

    def methods(self) -> list[MethodDescriptor]:
        """Every V2 method, in declaration order."""
        return list(self.service.methods)  # type: ignore[attr-defined]

    def top_level(self) -> tuple[list[Descriptor], list[EnumDescriptor]]:
        """Messages and enums declared by Clarifai's API files (nested ones included)."""
        messages: list[Descriptor] = []
        enums: list[EnumDescriptor] = []

        def nested(d: Descriptor) -> None:
            messages.append(d)
            enums.extend(d.enum_types)
            for sub in d.nested_types:
                nested(sub)

        for f in self.files:
            if not f.package.startswith("clarifai.api"):
                continue
            fd = self.pool.FindFileByName(f.name)
            for d in fd.message_types_by_name.values():
                nested(d)
            enums.extend(fd.enum_types_by_name.values())
        return messages, enums


def load_release(version: str) -> Release:
    """The definitions of ``version`` from ``tools/descriptors/``."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path(version).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    docs = json.loads(docs_path(version).read_text())
    return Release(version, pool, list(fds.file), docs)


# -- the union schema ----------------------------------------------------------------


@dataclass
class Schema:
    """Messages and enums of both releases, by full name; the current one wins."""

    current: Release
    seed: Release
    messages: dict[str, Descriptor] = field(default_factory=dict)
    """Each message's winning descriptor (the current release's when it has one)."""
    fields: dict[str, list[FieldDescriptor]] = field(default_factory=dict)
    enums: dict[str, EnumDescriptor] = field(default_factory=dict)
    values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @classmethod
    def build(cls, current: Release, seed: Release) -> Schema:
        """The union of every message, field and enum value of both releases."""
        schema = cls(current, seed)
        cur_msgs, cur_enums = current.top_level()
        old_msgs, old_enums = seed.top_level()
        for d in [*cur_msgs, *old_msgs]:
            schema._add_message(d)
        for e in [*cur_enums, *old_enums]:
            schema._add_enum(e)
        # Types outside the API files (clarifai.api.utils, well-known) reached by fields.
        for d in list(schema.messages.values()):
            schema._reach(d)
        return schema

    def _add_message(self, d: Descriptor) -> None:
        if d.GetOptions().map_entry or d.full_name.startswith("google."):
            return
        known = self.fields.get(d.full_name)
        if known is None:
            self.messages[d.full_name] = d
            self.fields[d.full_name] = list(d.fields)
            return
        names = {f.name for f in known}
        known.extend(f for f in d.fields if f.name not in names)

    def _add_enum(self, e: EnumDescriptor) -> None:
        if e.full_name.startswith("google."):
            return
        known = self.values.get(e.full_name)
        if known is None:
            self.enums[e.full_name] = e
            self.values[e.full_name] = [(v.name, v.number) for v in e.values]
            return
        names = {n for n, _ in known}
        known.extend((v.name, v.number) for v in e.values if v.name not in names)

    def _reach(self, d: Descriptor) -> None:
        for f in self.fields.get(d.full_name, []):
            for sub in _field_types(f):
                if isinstance(sub, EnumDescriptor):
                    if sub.full_name not in self.enums:
                        self._add_enum(sub)
                elif sub.full_name not in self.messages and not sub.full_name.startswith("google."):
                    self._add_message(sub)
                    self._reach(sub)

    def message_names(self) -> list[str]:
        """Full names of every message, by Python name."""
        return sorted(self.messages, key=python_name)

    def enum_names(self) -> list[str]:
        """Full names of every enum, by Python name."""
        return sorted(self.enums, key=python_name)

    def doc(self, key: str) -> str | None:
        """The proto comment of ``Message`` / ``Message.field`` (current release first)."""
        return self.current.docs.get(key) or self.seed.docs.get(key)

    def closure(self, roots: Iterable[str]) -> set[str]:
        """Full names of the messages reachable from ``roots`` (themselves included)."""
        out: set[str] = set()
        todo = [r for r in roots if r in self.messages]
        while todo:
            name = todo.pop()
            if name in out:
                continue
            out.add(name)
            for f in self.fields[name]:
                for sub in _field_types(f):
                    if isinstance(sub, Descriptor) and sub.full_name in self.messages:
                        todo.append(sub.full_name)
        return out


def _field_types(f: FieldDescriptor) -> list[Descriptor | EnumDescriptor]:
    """The message and enum types a field holds (a map's value type for maps)."""
    mt = f.message_type
    if mt is not None and mt.GetOptions().map_entry:
        return [t for sub in mt.fields for t in _field_types(sub)]
    out: list[Descriptor | EnumDescriptor] = []
    if mt is not None:
        out.append(mt)
    if f.enum_type is not None:
        out.append(f.enum_type)
    return out


# -- operations -------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    """One google.api.http rule of a method."""

    verb: str
    path: str
    body: str

    @property
    def scope(self) -> int:
        """0 app-scoped, 1 user-scoped, 2 anything else (root)."""
        if self.path.startswith(APP_PREFIX):
            return 0
        return 1 if self.path.startswith(USER_PREFIX) else 2


def bindings(method: MethodDescriptor) -> list[Binding]:
    """Every HTTP binding of ``method``, in declaration order."""
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    out = []
    for r in [rule, *rule.additional_bindings]:
        verb = r.WhichOneof("pattern")
        if verb is not None and verb != "custom":
            out.append(Binding(verb.upper(), getattr(r, verb), r.body))
    return out


@dataclass
class Operation:
    """One generated operation."""

    name: str
    method_name: str
    release: str
    http_method: str
    paths: tuple[str, ...]
    body: bool
    request: Descriptor
    response: Descriptor
    streaming: bool
    idempotent: bool
    items_field: str | None
    paged: bool
    page_items: str | None


def _path_fields(path: str) -> set[str]:
    return set(re.findall(r"\{([^}]+)\}", path))


def _idempotent(name: str) -> bool:
    if not name.startswith(("Post", "Put")) or name in READ_ONLY_POSTS:
        return True
    return name.endswith("Searches") and name not in CREATING_SEARCHES


def _operation(method: MethodDescriptor, release: str) -> Operation:
    rules = bindings(method)
    # The client sends to the most specific scope the operation offers: its
    # app-scoped bindings (the client's app fills the ids); with none, its
    # user-scoped ones; with none, the root ones. Within a scope, the template
    # with the most path fields comes first: the first whose fields are set wins.
    scope = min(r.scope for r in rules)
    chosen: list[Binding] = []
    for r in sorted((r for r in rules if r.scope == scope), key=lambda r: -r.path.count("{")):
        # Of bindings with the same path fields (/inputs/annotations and
        # /annotations), the client would only ever use the first.
        if all(_path_fields(r.path) != _path_fields(c.path) for c in chosen):
            chosen.append(r)
    shapes = {(r.verb, r.body) for r in chosen}
    assert len(shapes) == 1, (method.name, chosen)
    assert chosen[0].body in ("*", ""), (method.name, chosen[0].body)
    response = method.output_type
    request_fields = {f.name for f in method.input_type.fields}
    repeated = [f.name for f in response.fields if f.is_repeated and f.message_type is not None]
    items_field = repeated[0] if len(repeated) == 1 else None
    paged = {"page", "per_page"} <= request_fields
    page_items = None
    if paged or "pagination" in request_fields:
        hits = "hits" if "hits" in response.fields_by_name else None
        page_items = items_field or PAGE_ITEMS.get(method.name, hits)
    return Operation(
        name=method.name,
        method_name=snake(method.name),
        release=release,
        http_method=chosen[0].verb,
        paths=tuple(r.path for r in chosen),
        body=chosen[0].body == "*",
        request=method.input_type,
        response=response,
        streaming=method.server_streaming,
        idempotent=_idempotent(method.name),
        items_field=items_field,
        paged=paged,
        page_items=page_items,
    )


def load_operations(current: Release, seed: Release) -> list[Operation]:
    """Every REST operation of ``current``, then the seed operations it dropped."""
    ops = [
        _operation(m, current.version)
        for m in current.methods()
        if not m.client_streaming and bindings(m)
    ]
    for name in SEED_OPERATIONS:
        if current.method(name) is None:
            method = seed.method(name)
            assert method is not None, name
            ops.append(_operation(method, seed.version))
    return ops


def unservable(current: Release) -> list[MethodDescriptor]:
    """Methods of ``current`` a REST client cannot call (client streaming)."""
    return [m for m in current.methods() if m.client_streaming or not bindings(m)]


def releases() -> tuple[Release, Release]:
    """(current, seed) releases."""
    return load_release(CURRENT), load_release(SEED)


# -- lazy loading: which module each message lives in ------------------------------

#: How many modules the messages are spread over, and what loading one more module
#: costs, in messages (a module's file lookup and load against one class).
MODULES = 40
MODULE_COST = 20


def group_messages(schema: Schema, ops: list[Operation]) -> list[list[str]]:
    """The messages in ``MODULES`` groups, so that one operation loads few of them.

    Messages used by exactly the same operations (request and response
    closures) start as one group; then the two groups whose merging adds the
    fewest messages loaded by operations that need only one of them, less
    ``MODULE_COST`` per operation that needs both, merge, until ``MODULES``
    are left. The messages every operation needs (``Status``) stay apart, so
    loading them pulls in nothing else. Deterministic: ties go to the earlier pair.
    """
    users: dict[str, int] = {}
    for i, op in enumerate(ops):
        for name in schema.closure([op.request.full_name, op.response.full_name]):
            users[name] = users.get(name, 0) | (1 << i)
    by_users: dict[int, list[str]] = {}
    for name in schema.message_names():
        by_users.setdefault(users.get(name, 0), []).append(name)
    groups = list(by_users.items())
    everyone = (1 << len(ops)) - 1

    def cost(a: tuple[int, list[str]], b: tuple[int, list[str]]) -> int:
        (ua, ma), (ub, mb) = a, b
        extra = (ua & ~ub).bit_count() * len(mb) + (ub & ~ua).bit_count() * len(ma)
        return extra - MODULE_COST * (ua & ub).bit_count()

    while len(groups) > MODULES:
        _, i, j = min(
            (cost(groups[i], groups[j]), i, j)
            for i in range(len(groups))
            for j in range(i + 1, len(groups))
            if everyone not in (groups[i][0], groups[j][0])
        )
        groups[i] = (groups[i][0] | groups[j][0], groups[i][1] + groups[j][1])
        del groups[j]
    return [sorted(ms, key=python_name) for _, ms in groups]


def field_message_types(schema: Schema, full_name: str) -> set[str]:
    """Full names of the messages the fields of ``full_name`` hold."""
    return {
        t.full_name
        for f in schema.fields[full_name]
        for t in _field_types(f)
        if isinstance(t, Descriptor) and t.full_name in schema.messages
    }
