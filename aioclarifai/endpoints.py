"""The operation table: one :class:`~aioclarifai._endpoint_spec.Endpoint` per Clarifai operation.

``ENDPOINTS`` maps each method name to its endpoint; each endpoint is also a
module constant (``POST_MODEL_OUTPUTS``). Generated into
:mod:`aioclarifai._generated.endpoints`; this module is its public name.
"""

from ._generated.endpoints import *  # noqa: F403
from ._generated.endpoints import __all__ as _generated_all

__all__ = list(_generated_all)
