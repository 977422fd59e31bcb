"""The :class:`Endpoint` record that the generated table in :mod:`endpoints` is made of."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Endpoint", "EndpointRow", "EndpointTable", "PathTemplate"]

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

_FIELD = re.compile(r"\{([a-z0-9_.]+)\}")


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A path such as ``/v2/users/{user_app_id.user_id}/...`` split into its parts.

    ``literals`` has one more item than ``fields``: the path is
    ``literals[0] + value(fields[0]) + literals[1] + ...``.
    """

    template: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        """Split ``template`` at its ``{field.path}`` placeholders."""
        pieces = _FIELD.split(template)
        return cls(
            template=template,
            literals=tuple(pieces[0::2]),
            fields=tuple(tuple(p.split(".")) for p in pieces[1::2]),
        )


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[ReqT, RespT]):
    """One Clarifai operation: how to send its request and read its response."""

    name: str
    """The operation's name in Clarifai's API (``PostModelOutputs``)."""
    http_method: str
    paths: tuple[str, ...]
    """Path templates, most specific first; the first whose fields are all set is used."""
    body: bool
    """True: non-path fields go in a JSON body. False: in the query string."""
    request_type: type[ReqT]
    response_type: type[RespT]
    streaming: bool
    """Server-streaming: the answer is newline-delimited JSON messages."""
    idempotent: bool
    """False for operations that create or append; those are retried only when
    the request surely was not processed."""
    items_field: str | None
    """The response's repeated field of results (``workflows``), if it has exactly one."""
    paged: bool
    """The request takes ``page`` and ``per_page``."""
    page_items: str | None = None
    """For operations :meth:`~aioclarifai.Client.paginate` walks: the response's list
    field of items (``workflows``, a search's ``hits``); None otherwise."""
    templates: tuple[PathTemplate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", tuple(PathTemplate.parse(p) for p in self.paths))


#: One generated row: (name, http_method, paths, body, request type name,
#: response type name, streaming, idempotent, items_field, paged, page_items).
EndpointRow = tuple[
    str, str, tuple[str, ...], bool, str, str, bool, bool, "str | None", bool, "str | None"
]


class EndpointTable(Mapping[str, "Endpoint[Any, Any]"]):
    """The operation table by method name; each :class:`Endpoint` is built on first use.

    Building one looks its request and response types up in ``types`` (the lazily
    loaded generated types), so only an operation that is used loads its messages.
    """

    __slots__ = ("_built", "_rows", "_types")

    def __init__(self, rows: dict[str, EndpointRow], types: Any) -> None:
        self._rows = rows
        self._types = types
        self._built: dict[str, Endpoint[Any, Any]] = {}

    def __getitem__(self, method_name: str) -> Endpoint[Any, Any]:
        endpoint = self._built.get(method_name)
        if endpoint is None:
            name, verb, paths, body, req, resp, streaming, idem, items, paged, page = self._rows[
                method_name
            ]
            endpoint = self._built[method_name] = Endpoint(
                name, verb, paths, body, getattr(self._types, req), getattr(self._types, resp),
                streaming, idem, items, paged, page,
            )  # fmt: skip
        return endpoint

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, method_name: object) -> bool:
        return method_name in self._rows

    def __repr__(self) -> str:
        return f"<EndpointTable of {len(self._rows)} operations>"
