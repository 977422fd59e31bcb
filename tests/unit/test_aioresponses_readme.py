"""The README's aioresponses snippet, run exactly as printed there (test_readme.py compares)."""

from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses
from yarl import URL

from aioclarifai import Client, NotFoundError, types

OUTPUTS = (
    "https://api.clarifai.com/v2/users/me/apps/my-app/models/general-image-recognition/outputs"
)


class Response(ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's ``stream_writer`` (aioresponses#289)."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


async def top_concept(client: Client, url: str) -> str:  # the code under test
    image = types.Input(data=types.Data(image=types.Image(url=url)))
    out = await client.predict("general-image-recognition", image)
    return out.data.concepts[0].name if out.data and out.data.concepts else ""


async def test_top_concept() -> None:
    answer = {"status": {"code": 10000}, "outputs": [{"data": {"concepts": [{"name": "train"}]}}]}
    with aioresponses() as mocked:
        mocked.post(OUTPUTS, payload=answer, response_class=Response)
        async with Client(pat="test-pat", app_id="my-app") as client:
            assert await top_concept(client, "https://example.com/train.jpg") == "train"


async def test_top_concept_of_a_missing_model() -> None:
    status = {"code": 21200, "description": "Model does not exist"}
    with aioresponses() as mocked:
        mocked.post(OUTPUTS, status=404, payload={"status": status}, response_class=Response)
        async with Client(pat="test-pat", app_id="my-app") as client:
            with pytest.raises(NotFoundError):
                await top_concept(client, "https://example.com/train.jpg")
