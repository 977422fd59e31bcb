"""``AIOCLARIFAI_LOG=debug|info`` sets up the ``aioclarifai`` logger."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from aioclarifai._log import configure_from_env


@pytest.fixture
def clean_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("aioclarifai")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_unset_changes_nothing(clean_logger: logging.Logger) -> None:
    before = list(clean_logger.handlers)
    assert configure_from_env({}) is None
    assert configure_from_env({"AIOCLARIFAI_LOG": " "}) is None
    assert clean_logger.handlers == before


@pytest.mark.parametrize(("value", "level"), [("debug", logging.DEBUG), ("INFO", logging.INFO)])
def test_levels_and_one_handler(clean_logger: logging.Logger, value: str, level: int) -> None:
    first = configure_from_env({"AIOCLARIFAI_LOG": value})
    again = configure_from_env({"AIOCLARIFAI_LOG": value})
    assert first is not None
    assert again is first
    assert clean_logger.level == level
    assert clean_logger.handlers.count(first) == 1


def test_unknown_value_warns(clean_logger: logging.Logger) -> None:
    with pytest.warns(RuntimeWarning, match="use one of debug, info"):
        assert configure_from_env({"AIOCLARIFAI_LOG": "verbose"}) is None


def test_import_reads_the_variable() -> None:
    # A fresh interpreter: importing aioclarifai applies AIOCLARIFAI_LOG.
    code = (
        "import logging, aioclarifai; lg = logging.getLogger('aioclarifai'); "
        "print(logging.getLevelName(lg.level), len(lg.handlers)); lg.info('hello from test')"
    )
    env = {**os.environ, "AIOCLARIFAI_LOG": "info"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.split() == ["INFO", "1"]
    assert "INFO aioclarifai] hello from test" in done.stderr
