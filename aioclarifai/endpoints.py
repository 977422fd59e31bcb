"""The operation table: one :class:`~aioclarifai._endpoint_spec.Endpoint` per Clarifai operation.

``ENDPOINTS`` maps each method name to its endpoint; each endpoint is also a
module constant (``POST_MODEL_OUTPUTS``). Generated into
:mod:`aioclarifai._generated.endpoints`; this module is its public name.
Endpoints are built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._generated import endpoints as _generated

if TYPE_CHECKING:
    from ._generated.endpoints import *  # noqa: F403

__all__ = list(_generated.__all__)


def __getattr__(name: str) -> Any:
    # POST_MODEL_OUTPUTS and the other constants, built on first use.
    try:
        value = globals()[name] = getattr(_generated, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return value
