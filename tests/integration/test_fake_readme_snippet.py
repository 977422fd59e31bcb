"""The README's five-line test against FakeClarifai, run exactly as printed there."""

from aioclarifai import Client, types


async def test_predict(clarifai_client: Client) -> None:  # fixture from aioclarifai's plugin
    text = types.Input(data=types.Data(text=types.Text(raw="a cat on a mat")))
    out = await clarifai_client.predict("my-model", text)
    assert out.data and out.data.concepts
