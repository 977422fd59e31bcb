"""FakeClarifai: a stateful in-memory Clarifai over real HTTP, for tests, benchmarks and demos.

>>> async with FakeClarifai() as fake:
...     async with Client(base_url=fake.url, pat=fake.pat, app_id="app") as client:
...         out = await client.predict("general-image-recognition", types.Input(...))

As a process: ``python -m aioclarifai.testing --port 8080`` (or
``run_in_subprocess()`` from Python) prints
``FakeClarifai listening on http://127.0.0.1:8080`` and serves until interrupted.
With pytest, the ``fake_clarifai`` and ``clarifai_client`` fixtures come from
the plugin this package registers.

Without a server: ``Client(transport=MockTransport(handler))`` hands every
request to ``handler``, which returns a ``MockResponse``.
"""

from ._faults import Fault
from ._mock import MockRequest, MockResponse, MockTransport
from ._process import run_in_subprocess, serve
from ._server import FakeClarifai, RequestRecord
from ._state import VOCABULARY, concepts_for

__all__ = [
    "VOCABULARY",
    "FakeClarifai",
    "Fault",
    "MockRequest",
    "MockResponse",
    "MockTransport",
    "RequestRecord",
    "concepts_for",
    "run_in_subprocess",
    "serve",
]
