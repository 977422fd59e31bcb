"""aioclarifai: a fast, dependable asyncio client for the Clarifai V2 REST API.

>>> from aioclarifai import Client, types
>>> async with Client(app_id="my-app") as client:           # PAT from CLARIFAI_PAT
...     resp = await client.list_workflows(types.ListWorkflowsRequest(per_page=10))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._batching import BatchConfig
from ._client import Client
from ._config import ConfigurationError, InsecureTransportWarning, RetryConfig, Timeout
from ._core import RequestEvent, ResponseEvent
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClarifaiError,
    ModelNotReadyError,
    NotFoundError,
    OutputError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    StreamError,
)
from ._extras import APIResponse
from ._log import configure_from_env as _configure_log_from_env
from ._pagination import Page, Paginator
from ._streaming import ResponseStream
from ._text_stream import TextStream
from ._transport import ClientState, Transport
from ._uploads import UploadError
from ._version import __version__

if TYPE_CHECKING:
    from . import types

__all__ = [
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchConfig",
    "ClarifaiError",
    "Client",
    "ClientState",
    "ConfigurationError",
    "InsecureTransportWarning",
    "ModelNotReadyError",
    "NotFoundError",
    "OutputError",
    "Page",
    "Paginator",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RequestEvent",
    "ResponseEvent",
    "ResponseStream",
    "RetryConfig",
    "ServerError",
    "StreamError",
    "TextStream",
    "Timeout",
    "Transport",
    "UploadError",
    "__version__",
    "types",
]

_configure_log_from_env()  # AIOCLARIFAI_LOG=debug|info


# Tracebacks and reprs name the errors (and warnings) as users import them
# (``aioclarifai.NotFoundError``), not by the private module that defines them.
for _name in __all__:
    _public = globals().get(_name)
    if isinstance(_public, type) and issubclass(_public, BaseException):
        _public.__module__ = __name__
del _name, _public


def __getattr__(name: str) -> Any:
    # ``types`` is imported on first use to keep ``import aioclarifai`` cheap.
    if name == "types":
        from . import types

        return types
    raise AttributeError(f"module 'aioclarifai' has no attribute {name!r}")
