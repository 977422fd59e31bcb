"""The ``aioclarifai`` command line (also ``python -m aioclarifai``).

:func:`main` parses the arguments and runs a subcommand; the modules beside it
hold one job each: ``_main`` (arguments and subcommands), ``_batch`` (the
one-process batch job), ``_ray`` (the same job on Ray Data), ``_io`` (input
parsing and result records), ``_progress`` (the progress display) and
``_demo`` (the demo on the bundled fake).
"""

from ._main import main

__all__ = ["main"]
