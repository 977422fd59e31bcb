"""Predictions and generations: deterministic outputs of the fake's models, kept fast.

Every model id exists (unless the server marks it missing) and answers with
concepts drawn from the input's text, URL or bytes. A model added with
:meth:`PredictArea.set_model_output` answers instead with one of the current
("pythonic") output shapes: ``Data.string_value``, ``int_value``,
``bytes_value`` or ``parts``, or classic ``text.raw``.

The answers are written straight to JSON bytes with cached pieces: the
benchmarks hold FakeClarifai to at least 0.7x a canned handler.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import itertools
import re
from collections.abc import Callable
from typing import Any

import msgspec

from ... import types as t
from .._wire import WireError, decode_twin
from ._app import StateBase
from ._common import VOCABULARY, concepts_for, digest, status

__all__ = [
    "MAX_INPUTS",
    "OUTPUT_KINDS",
    "PredictArea",
    "generated_text",
    "input_key",
    "output_data",
    "split_text",
]

MAX_INPUTS = 128
"""Inputs per predict or generate request, the live cap."""

OUTPUT_KINDS = ("concepts", "text", "string", "int", "bytes", "parts")
"""What a fake model can answer with (see :meth:`PredictArea.set_model_output`)."""

_encoder = msgspec.json.Encoder()
_DESCRIPTION = {10000: "Ok", 10010: "Mixed Success", 10020: "Failure"}
OK_OUTPUT_STATUS = msgspec.Raw(b'{"code":10000,"description":"Ok"}')
_FAILED_OUTPUT_STATUS = msgspec.Raw(
    _encoder.encode(
        status(30002, details="could not fetch the input (its URL or text says 'fail')")
    )
)


def timestamp() -> str:
    """Now, as the live API writes times."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def input_key(inp: Any) -> tuple[bytes, bool]:
    """(hash key, should fail) of a request input: its text, URL, bytes or string value."""
    data = inp.data
    if data is None:
        return b"", False
    for media in (data.text, data.image, data.video, data.audio):
        if media is None:
            continue
        raw = getattr(media, "raw", "")
        if raw:
            return raw.encode(), "fail" in raw
        if media.url:
            return media.url.encode(), "fail" in media.url
        blob = getattr(media, "base64", b"")
        if blob:
            return blob, False
    # Current models take named arguments as string values, possibly in parts.
    value = getattr(data, "string_value", "")
    if value:
        return value.encode(), "fail" in value
    for part in getattr(data, "parts", ()):
        if part.data is not None:
            key, fail = input_key(part)
            if key:
                return key, fail
    return b"", False


def _number(key: bytes) -> int:
    return int.from_bytes(digest(key)[:4], "big") % 1000


def output_data(kind: str, key: bytes) -> dict[str, Any]:
    """The ``data`` of an output of a model answering with ``kind``, for input ``key``."""
    if kind == "concepts":
        return {"concepts": msgspec.to_builtins(concepts_for(key))}
    if kind == "text":
        return {"text": {"raw": generated_text(key)}}
    if kind == "string":
        return {"string_value": generated_text(key)}
    if kind == "int":
        return {"int_value": str(_number(key))}  # int64: a JSON string, as the live API sends
    if kind == "bytes":
        return {"bytes_value": base64.b64encode(digest(key)).decode()}
    if kind == "parts":
        return {
            "parts": [
                {"id": "text", "data": {"string_value": generated_text(key)}},
                {"id": "count", "data": {"int_value": str(_number(key))}},
            ]
        }
    raise ValueError(f"output must be one of {', '.join(OUTPUT_KINDS)}, not {kind!r}")


@functools.lru_cache(maxsize=4096)
def generated_text(prompt: bytes, words: int = 48) -> str:
    """The deterministic text FakeClarifai generates for ``prompt``."""
    seed = hashlib.blake2b(prompt, digest_size=64).digest()
    picked = [VOCABULARY[seed[i % len(seed)] % len(VOCABULARY)] for i in range(words)]
    return " ".join(picked).capitalize() + "."


def split_text(text: str, chunks: int) -> list[str]:
    """``text`` cut at word boundaries into ``chunks`` deltas that join back into ``text``.

    With more chunks than words, the last ones are empty.
    """
    words = re.findall(r"\S+\s*", text)
    size, extra = divmod(len(words), chunks)
    out, start = [], 0
    for i in range(chunks):
        end = start + size + (1 if i < extra else 0)
        out.append("".join(words[start:end]))
        start = end
    return out


def _check_inputs(inputs: list[Any]) -> None:
    if not inputs:
        raise WireError(11102, 400, "Invalid request", "inputs must not be empty")
    if len(inputs) > MAX_INPUTS:
        raise WireError(
            11102, 400, "Invalid request",
            f"{len(inputs)} inputs in one request; the maximum is {MAX_INPUTS}",
        )  # fmt: skip


class PredictArea(StateBase):
    """PostModelOutputs and GenerateModelOutputs, and what models answer with."""

    def __init__(self, user_id: str, *, export_delay: float = 0.2) -> None:
        super().__init__(user_id, export_delay=export_delay)
        self.model_outputs: dict[tuple[str, str, str], str] = {}
        """(user id, app id, model id) → output kind, for models that answer other than concepts."""
        self._out_ids = itertools.count(1)
        self._data_raw: dict[tuple[str, bytes], msgspec.Raw] = {}
        self._models_raw: dict[tuple[str, str, str, str], msgspec.Raw] = {}

    def models_changed(self) -> None:
        """Forget the encoded models: a created or deleted model changes what outputs echo."""
        self._models_raw.clear()
        super().models_changed()

    def set_model_output(self, user_id: str, app_id: str, model_id: str, kind: str) -> None:
        """Make a model answer with ``kind`` (one of :data:`OUTPUT_KINDS`)."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {', '.join(OUTPUT_KINDS)}, not {kind!r}")
        user = self.user_id if user_id == "me" else user_id
        self.model_outputs[(user, app_id, model_id)] = kind
        self._data_raw.clear()

    def output_kind(self, user_id: str, app_id: str, model_id: str) -> str:
        """What the model answers with (``"concepts"`` unless set)."""
        if not self.model_outputs:
            return "concepts"
        return self.model_outputs.get((user_id, app_id, model_id), "concepts")

    def _user_app(self, path_values: dict[str, str]) -> tuple[str, str]:
        user = path_values.get("user_app_id.user_id", "me")
        return (self.user_id if user == "me" else user), path_values.get("user_app_id.app_id", "")

    def model_raw(self, path_values: dict[str, str]) -> msgspec.Raw:
        """The ``model`` every output of a request echoes, encoded once per model."""
        user, app = self._user_app(path_values)
        model_id = path_values["model_id"]
        version = path_values.get("version_id", "")
        key = (user, app, model_id, version)
        raw = self._models_raw.get(key)
        if raw is None:
            state = self.app(t.UserAppIDSet(user_id=user, app_id=app))
            model: Any = state.collection("Model").get(model_id)
            mv = self.model_version(state, model_id, version)
            if model is None:
                model = t.Model(
                    id=model_id, name=model_id, app_id=app, user_id=user,
                    model_version=mv, visibility=t.Visibility(gettable=10),
                )  # fmt: skip
            elif model.model_version is None:
                model = msgspec.structs.replace(model, model_version=mv)
            raw = self._models_raw[key] = msgspec.Raw(_encoder.encode(model))
        return raw

    def data_raw(self, kind: str, key: bytes) -> msgspec.Raw:
        """The encoded ``data`` of an output, cached by input."""
        cache_key = (kind, key)
        raw = self._data_raw.get(cache_key)
        if raw is None:
            if len(self._data_raw) > 65_536:
                self._data_raw.clear()
            if kind == "concepts":
                raw = msgspec.Raw(_encoder.encode(t.Data(concepts=concepts_for(key))))
            else:
                raw = msgspec.Raw(_encoder.encode(output_data(kind, key)))
            self._data_raw[cache_key] = raw
        return raw

    def outputs_for(
        self, inputs: list[Any], kind: str, model: msgspec.Raw, stamp: str
    ) -> tuple[list[dict[str, Any]], int]:
        """One output per input, and how many failed (inputs whose text or URL says "fail")."""
        outputs = []
        failed = 0
        for given in inputs:
            inp = given
            if not inp.id:
                inp = msgspec.structs.replace(given, id=f"input-{next(self._out_ids):08d}")
            key, fail = input_key(inp)
            out: dict[str, Any] = {
                "id": f"output-{next(self._out_ids):08d}",
                "created_at": stamp,
                "model": model,
                "input": inp,
            }
            if fail:
                failed += 1
                out["status"] = _FAILED_OUTPUT_STATUS
            else:
                out["status"] = OK_OUTPUT_STATUS
                out["data"] = self.data_raw(kind, key)
            outputs.append(out)
        return outputs, failed

    def predict(self, body: bytes, path_values: dict[str, str], rid: str) -> tuple[int, bytes]:
        """PostModelOutputs: (HTTP status, body); 10010 when some inputs fail, 10020 when all do."""
        req = decode_twin(t.PostModelOutputsRequest, body)
        inputs = req.inputs
        _check_inputs(inputs)
        model = self.model_raw(path_values)
        user, app = self._user_app(path_values)
        kind = self.output_kind(user, app, path_values["model_id"])
        outputs, failed = self.outputs_for(inputs, kind, model, timestamp())
        if failed == 0:
            code, http = 10000, 200
        elif failed < len(inputs):
            code, http = 10010, 200
        else:
            code, http = 10020, 400
        top = {"code": code, "description": _DESCRIPTION[code], "req_id": rid}
        return http, _encoder.encode({"status": top, "outputs": outputs})

    def generation(
        self, body: bytes, path_values: dict[str, str], chunks: int
    ) -> tuple[Callable[[int, str], bytes], int]:
        """GenerateModelOutputs: a function writing line ``i`` of the stream, and the line count.

        Text is cut into ``chunks`` deltas per input, in ``text.raw`` (or in
        ``string_value`` for models that answer with strings or parts).
        """
        req = decode_twin(t.PostModelOutputsRequest, body)
        _check_inputs(req.inputs)
        model = self.model_raw(path_values)
        user, app = self._user_app(path_values)
        kind = self.output_kind(user, app, path_values["model_id"])
        inputs = [
            inp if inp.id else msgspec.structs.replace(inp, id=f"input-{next(self._out_ids):08d}")
            for inp in req.inputs
        ]
        count = max(1, chunks)
        pieces = [split_text(generated_text(input_key(inp)[0]), count) for inp in inputs]
        as_string = kind in ("string", "parts")

        def data(piece: str) -> dict[str, Any]:
            return {"string_value": piece} if as_string else {"text": {"raw": piece}}

        def line(i: int, rid: str) -> bytes:
            outputs = [
                {
                    "id": f"output-{next(self._out_ids):08d}",
                    "status": OK_OUTPUT_STATUS,
                    "created_at": timestamp(),
                    "model": model,
                    "input": {"id": inp.id},
                    "data": {"string_value": parts[i]}
                    if as_string
                    else {"text": {"raw": parts[i]}},
                }
                for inp, parts in zip(inputs, pieces, strict=True)
            ]
            frame = {"result": {"status": {"code": 10000, "description": "Ok", "req_id": rid},
                                "outputs": outputs}}  # fmt: skip
            return _encoder.encode(frame) + b"\n"

        return line, count
