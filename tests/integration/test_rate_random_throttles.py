"""A server that throttles now and then at random (not an account limit) over loopback HTTP."""

from __future__ import annotations

import asyncio

from aiohttp import web

from aioclarifai import Client

THROTTLED = {"status": {"code": 11005, "description": "Making too many requests"}}
OK = {"status": {"code": 10000}, "workflows": []}


async def test_a_429_now_and_then_is_retried_and_does_not_pace_the_client() -> None:
    seen = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if seen % 100 == 0:  # one in a hundred, no Retry-After: a proxy's, not a limit
            return web.json_response(THROTTLED, status=429)
        return web.json_response(OK)

    app = web.Application()
    app.router.add_get("/v2/users/me/apps/app/workflows", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with Client("k" * 32, base_url=url, app_id="app") as c:
            calls = iter(range(3000))

            async def worker() -> None:
                for _ in calls:
                    answer = await c.list_workflows()
                    assert answer.status is not None and answer.status.code == 10000

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(16))), 15)
            stats = c.rate_stats()
    finally:
        await runner.cleanup()
    assert stats is not None
    assert stats.throttled == seen // 100 >= 29  # every throttled attempt retried
    assert stats.ceiling is None and stats.rate is None  # never paced for them
