"""Realistic Clarifai JSON bodies shared by the servers and the decode benchmark.

A prediction output looks like the live API's answer to a general image
recognition model: its own id and status, a timestamp, the model's
description, the input echoed with its image URL, and 20 concepts.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

__all__ = [
    "IMAGE_URL",
    "multi_output_response",
    "output",
    "stream_line",
]

IMAGE_URL = "https://samples.clarifai.com/metro-north.jpg"

_CONCEPT_NAMES = (
    "train",
    "railway",
    "subway system",
    "station",
    "locomotive",
    "transportation system",
    "travel",
    "commuter",
    "platform",
    "light",
    "city",
    "urban",
    "no person",
    "street",
    "traffic",
    "business",
    "blur",
    "road",
    "indoors",
    "architecture",
)

_MODEL: dict[str, Any] = {
    "id": "general-image-recognition",
    "name": "general-image-recognition",
    "created_at": "2016-03-09T17:11:39.608845Z",
    "app_id": "main",
    "model_version": {
        "id": "aa7f35c01e0642fda5cf400f543e7c40",
        "created_at": "2018-03-06T21:10:24.454834Z",
        "status": {"code": 21100, "description": "Model is trained and ready"},
        "visibility": {"gettable": 50},
        "app_id": "main",
        "user_id": "clarifai",
    },
    "user_id": "clarifai",
    "model_type_id": "visual-classifier",
    "visibility": {"gettable": 50},
}


def _concepts(seed: str, count: int) -> list[dict[str, Any]]:
    digest = hashlib.sha256(seed.encode()).digest()
    out = []
    for i in range(count):
        name = _CONCEPT_NAMES[i % len(_CONCEPT_NAMES)]
        value = 0.999 - i * 0.01 - digest[i % len(digest)] / 100_000
        out.append(
            {
                "id": f"ai_{digest[i % 32]:02x}{i:04d}",
                "name": name,
                "value": round(value, 7),
                "app_id": "main",
            }
        )
    return out


def output(input_id: str, url: str = IMAGE_URL, concepts: int = 20) -> dict[str, Any]:
    """One prediction output for ``input_id`` (JSON-ready dict)."""
    return {
        "id": hashlib.md5(input_id.encode()).hexdigest(),
        "status": {"code": 10000, "description": "Ok"},
        "created_at": "2026-11-28T16:57:49.123456789Z",
        "model": _MODEL,
        "input": {"id": input_id, "data": {"image": {"url": url}}},
        "data": {"concepts": _concepts(input_id, concepts)},
    }


def multi_output_response(outputs: int, concepts: int = 20) -> bytes:
    """A ``MultiOutputResponse`` body with ``outputs`` outputs."""
    body = {
        "status": {"code": 10000, "description": "Ok", "req_id": "b5c0e2d7a1f94e0c9d3b"},
        "outputs": [output(f"input-{i}", concepts=concepts) for i in range(outputs)],
    }
    return msgspec.json.encode(body)


def stream_line(index: int) -> bytes:
    """One line of a generation stream: ``{"result": MultiOutputResponse}`` + newline."""
    body = {
        "result": {
            "status": {"code": 10000, "description": "Ok", "req_id": "gen"},
            "outputs": [
                {
                    "id": "gen-output",
                    "status": {"code": 10000, "description": "Ok"},
                    "data": {"text": {"raw": f" token{index}"}},
                }
            ],
        }
    }
    return msgspec.json.encode(body) + b"\n"
