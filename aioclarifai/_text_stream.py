"""``client.generate``: a streamed generation as an async iterator of text deltas.

>>> async with client.generate("gpt-4o", "Write a haiku") as stream:
...     async for delta in stream:
...         print(delta, end="")
...     print(stream.prompt_tokens, stream.completion_tokens)

Each chunk of ``GenerateModelOutputs`` carries the next piece of text (a delta,
not the text so far) in ``outputs[0].data.text.raw``, or in
``outputs[0].data.parts[0].data.string_value`` for newer models. Chunks are
decoded once, into the generated message types extended by the fields newer
servers send that the pinned schema lacks (``Data.string_value``,
``Output.prompt_tokens`` / ``completion_tokens``); they are still instances of
:class:`types.MultiOutputResponse`. Nothing accumulates per chunk unless
``keep_text`` asks for the joined text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec

from ._generated import endpoints
from ._message import EMPTY_LIST
from ._streaming import ResponseStream
from .types import (
    Data,
    Input,
    Model,
    ModelVersion,
    MultiOutputResponse,
    Output,
    OutputInfo,
    Part,
    PostModelOutputsRequest,
    Text,
    UserAppIDSet,
)

if TYPE_CHECKING:
    from ._core import Core

__all__ = [
    "GenerateData",
    "GenerateOutput",
    "GeneratePart",
    "GenerateResponse",
    "TextStream",
    "generate_request",
]


class GenerateData(Data):
    """``Data`` with ``string_value``, where newer models put a text part's content."""

    parts: list[GeneratePart] = EMPTY_LIST  # type: ignore[assignment]
    string_value: str = ""


class GeneratePart(Part):
    """``Part`` whose data may carry ``string_value``."""

    data: GenerateData | None = None


class GenerateOutput(Output):
    """``Output`` with the token counts that newer servers report."""

    data: GenerateData | None = None
    prompt_tokens: int = 0
    """Tokens of the prompt, as the model reported them (0: not reported)."""
    completion_tokens: int = 0
    """Tokens generated, as the model reported them (0: not reported)."""


class GenerateResponse(MultiOutputResponse):
    """One chunk of a generation: a ``MultiOutputResponse`` read with the fields above."""

    outputs: list[GenerateOutput] = EMPTY_LIST  # type: ignore[assignment]


def generate_request(
    model_id: str,
    prompt: str | Input,
    *,
    version_id: str | None = None,
    user_app_id: UserAppIDSet | None = None,
    inference_params: dict[str, Any] | None = None,
    model: Model | None = None,
) -> PostModelOutputsRequest:
    """The ``PostModelOutputsRequest`` of one generation.

    A ``str`` prompt becomes ``Input(data=Data(text=Text(raw=prompt)))``.
    ``inference_params`` (temperature, max_tokens, ...) go to
    ``model.model_version.output_info.params``, over any already set in ``model``.
    """
    if isinstance(prompt, str):
        item = Input(data=Data(text=Text(raw=prompt)))
    elif isinstance(prompt, Input):
        item = prompt
    else:
        raise TypeError(f"prompt must be a str or a types.Input, not {type(prompt).__name__}")
    if inference_params:
        base = model or Model()
        version = base.model_version or ModelVersion()
        info = version.output_info or OutputInfo()
        params = {**(info.params or {}), **inference_params}
        model = msgspec.structs.replace(
            base,
            model_version=msgspec.structs.replace(
                version, output_info=msgspec.structs.replace(info, params=params)
            ),
        )
    return PostModelOutputsRequest(
        user_app_id=user_app_id,
        model_id=model_id,
        version_id=version_id or "",
        inputs=[item],
        model=model,
    )


def text_of(output: GenerateOutput) -> str:
    """The text an output carries: ``data.text.raw``, else its first part's text."""
    data = output.data
    if data is None:
        return ""
    text = data.text
    if text is not None and text.raw:
        return text.raw
    if data.parts:
        part = data.parts[0].data
        if part is not None:
            if part.string_value:
                return part.string_value
            if part.text is not None:
                return part.text.raw
    return data.string_value


class TextStream:
    """A streamed generation: ``async for delta in stream`` yields text deltas (``str``).

    Use ``async with client.generate(...) as stream``; leaving the block closes
    the stream, whatever happened inside it. A plain ``async for`` closes it
    when the loop ends, but a ``break`` out of one leaves it open until it is
    garbage-collected (with a ``ResourceWarning``): use ``async with`` or
    :meth:`aclose` to stop early. Chunks without text (a final
    token-count chunk, say) are not yielded as empty strings but are still
    seen by :attr:`last_chunk`, :attr:`on_chunk` and the token counts.

    ``last_chunk``: the latest full chunk (:class:`GenerateResponse`).
    ``on_chunk``: an optional callable given every full chunk.
    ``prompt_tokens`` / ``completion_tokens``: the latest counts the server
    reported, or None. :meth:`chunks` iterates full chunks instead of deltas.
    With ``keep_text``, :attr:`text` is the text so far; :meth:`read_text`
    reads the rest and returns the text in one string.
    """

    __slots__ = (
        "_parts",
        "_pending",
        "_stream",
        "completion_tokens",
        "last_chunk",
        "on_chunk",
        "prompt_tokens",
    )

    def __init__(
        self,
        stream: ResponseStream[GenerateResponse],
        *,
        keep_text: bool = False,
        on_chunk: Callable[[GenerateResponse], Any] | None = None,
    ) -> None:
        self._stream = stream
        # The chunks of the stream's latest batch not looked at yet.
        self._pending: Iterator[GenerateResponse] = iter(())
        self._parts: list[str] | None = [] if keep_text else None
        self.on_chunk = on_chunk
        self.last_chunk: GenerateResponse | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    @classmethod
    def create(
        cls,
        core: Core,
        model_id: str,
        prompt: str | Input,
        *,
        version_id: str | None = None,
        user_app_id: UserAppIDSet | None = None,
        inference_params: dict[str, Any] | None = None,
        model: Model | None = None,
        keep_text: bool = False,
        on_chunk: Callable[[GenerateResponse], Any] | None = None,
    ) -> TextStream:
        """A generation of ``model_id`` for ``prompt`` (nothing is sent until it is used).

        Bad arguments raise here, before any I/O. See :func:`generate_request`.
        """
        request = generate_request(
            model_id,
            prompt,
            version_id=version_id,
            user_app_id=user_app_id,
            inference_params=inference_params,
            model=model,
        )
        stream = ResponseStream(
            core,
            endpoints.GENERATE_MODEL_OUTPUTS,
            request,
            response_type=GenerateResponse,
        )
        return cls(stream, keep_text=keep_text, on_chunk=on_chunk)

    def __repr__(self) -> str:
        return f"<TextStream {'closed' if self.closed else 'open'}>"

    @property
    def closed(self) -> bool:
        """True once the stream ended, failed or was closed."""
        return self._stream.closed

    @property
    def text(self) -> str:
        """The text generated so far (needs ``keep_text=True``)."""
        if self._parts is None:
            raise RuntimeError(
                "TextStream.text needs keep_text=True (or use read_text()); "
                "by default deltas are not kept, so memory stays flat"
            )
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> TextStream:
        await self._stream.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the generation now and drop its connection; safe to call more than once."""
        self._pending = iter(())  # what was read but not handed out is dropped too
        await self._stream.aclose()

    # -- iteration -------------------------------------------------------------------

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        # Walks the stream's decoded batch in place: one coroutine per delta
        # (this one), and an await only when a read is needed.
        while True:
            for chunk in self._pending:
                # _absorb() inlined: this runs once per chunk, and a call costs
                # about as much as the rest of it.
                self.last_chunk = chunk
                if self.on_chunk is not None:
                    self._call_on_chunk(self.on_chunk, chunk)
                if not chunk.outputs:
                    continue
                output = chunk.outputs[0]
                if output.prompt_tokens:
                    self.prompt_tokens = output.prompt_tokens
                if output.completion_tokens:
                    self.completion_tokens = output.completion_tokens
                # The usual shape first (data.text.raw), then text_of()'s other places.
                if (
                    (data := output.data) is None
                    or (text := data.text) is None
                    or not (delta := text.raw)
                ) and not (delta := text_of(output)):
                    continue
                if self._parts is not None:
                    self._parts.append(delta)
                return delta
            batch = await self._stream.next_batch()
            if not batch:
                raise StopAsyncIteration
            self._pending = iter(batch)

    def chunks(self) -> AsyncIterator[GenerateResponse]:
        """Iterate the full chunks instead of text deltas (counts and ``text`` still update)."""
        return _Chunks(self)

    async def read_text(self) -> str:
        """Read to the end and return the text (closes the stream).

        The whole text when nothing was read yet or with ``keep_text``;
        otherwise what remained.
        """
        if self._parts is None:
            self._parts = []
        try:
            async for _ in self:
                pass
        finally:
            await self._stream.aclose()
        return self.text

    def _absorb(self, chunk: GenerateResponse) -> None:
        """Note ``chunk``: last chunk, ``on_chunk``, token counts, kept text (as __anext__ does)."""
        self.last_chunk = chunk
        on_chunk = self.on_chunk
        if on_chunk is not None:
            self._call_on_chunk(on_chunk, chunk)
        if not chunk.outputs:
            return
        output = chunk.outputs[0]
        if output.prompt_tokens:
            self.prompt_tokens = output.prompt_tokens
        if output.completion_tokens:
            self.completion_tokens = output.completion_tokens
        if self._parts is not None:
            delta = text_of(output)
            if delta:
                self._parts.append(delta)

    def _call_on_chunk(
        self, on_chunk: Callable[[GenerateResponse], Any], chunk: GenerateResponse
    ) -> None:
        try:
            on_chunk(chunk)
        except BaseException:
            # The iteration fails here, like a failed chunk: drop the connection
            # now rather than leave it to the garbage collector.
            self._pending = iter(())
            self._stream.close()
            raise


class _Chunks(AsyncIterator[GenerateResponse]):
    """Full chunks of a :class:`TextStream`."""

    __slots__ = ("_owner",)

    def __init__(self, owner: TextStream) -> None:
        self._owner = owner

    async def __anext__(self) -> GenerateResponse:
        owner = self._owner
        chunk = next(owner._pending, None)
        if chunk is None:
            batch = await owner._stream.next_batch()
            if not batch:
                raise StopAsyncIteration
            owner._pending = it = iter(batch)
            chunk = next(it)
        owner._absorb(chunk)
        return chunk
