"""FakeClarifai's account limits: a token bucket per PAT answering as the live API does."""

from __future__ import annotations

import aiohttp
import pytest

from aioclarifai.testing import FakeClarifai
from aioclarifai.testing._limits import AccountLimits
from aioclarifai.testing._process import run_in_subprocess

_PREDICT = "/v2/users/me/apps/a/models/m/outputs"


def _body(n: int) -> dict[str, object]:
    return {"inputs": [{"id": f"i{k}", "data": {"text": {"raw": f"t{k}"}}} for k in range(n)]}


async def _burst(url: str, pat: str, n: int) -> list[tuple[int, dict[str, object], str | None]]:
    out = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Key {pat}"}) as session:
        for _ in range(n):
            async with session.post(url + _PREDICT, json=_body(1)) as resp:
                out.append((resp.status, await resp.json(), resp.headers.get("Retry-After")))
    return out


@pytest.mark.parametrize("retry_after", [True, False])
async def test_beyond_the_limit_answers_429_11005_as_the_live_api(retry_after: bool) -> None:
    async with FakeClarifai(rate_limit=3, retry_after=retry_after) as fake:
        answers = await _burst(fake.url, fake.pat, 8)  # far faster than 3/s
    refused = [a for a in answers if a[0] == 429]
    assert 3 <= len(answers) - len(refused) <= 4  # one second's worth passes at once
    _, body, header = refused[0]
    assert body["status"]["code"] == 11005  # type: ignore[index]
    assert body["status"]["details"] == (  # type: ignore[index]
        "Making too many requests, error_details: exceeded limit of 3 requests per second"
    )
    assert header == ("1" if retry_after else None)
    assert fake.limits is not None and fake.limits.throttled == len(refused)


def test_bucket_refills_at_the_rate_and_is_per_key() -> None:
    now = [0.0]
    limits = AccountLimits(2, clock=lambda: now[0])
    assert [limits.check("a") is None for _ in range(3)] == [True, True, False]
    assert limits.check("b") is None  # another account has its own bucket
    now[0] = 0.5
    assert limits.check("a") is None  # one token back after 1/2 s
    assert limits.check("a") is not None
    with pytest.raises(ValueError, match="rate_limit"):
        AccountLimits(0)


async def test_more_than_128_inputs_is_a_bad_request() -> None:
    async with FakeClarifai() as fake:
        headers = {"Authorization": f"Key {fake.pat}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(fake.url + _PREDICT, json=_body(129)) as resp:
                assert resp.status == 400
                status = (await resp.json())["status"]
            async with session.post(fake.url + _PREDICT, json=_body(128)) as resp:
                assert resp.status == 200
    assert status["code"] == 11102
    assert "129 inputs" in status["details"]


async def test_fake_server_process_takes_the_rate_limit_flags() -> None:
    with run_in_subprocess(extra_args=["--rate-limit", "2", "--no-retry-after"]) as url:
        answers = await _burst(url, "test-pat", 5)
    assert [a[0] for a in answers].count(429) >= 2
    assert all(a[2] is None for a in answers)
