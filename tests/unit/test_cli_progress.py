"""The progress display of ``aioclarifai batch``."""

from __future__ import annotations

import io

import pytest

from aioclarifai.cli._progress import PlainProgress, format_duration, make_progress


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_duration() -> None:
    assert format_duration(0) == "0:00"
    assert format_duration(65.4) == "1:05"
    assert format_duration(3725) == "1:02:05"


def test_plain_lines_every_interval() -> None:
    out = io.StringIO()
    clock = _Clock()
    progress = PlainProgress(10_000, out, interval=2.0, clock=clock)
    clock.now += 1.0
    progress.update(1_000, 0)
    assert out.getvalue() == ""  # before the interval: nothing yet
    clock.now += 1.0
    progress.update(2_000, 3)
    assert out.getvalue() == (
        "batch: 2,000/10,000 (20%) · 1,000 inputs/s · 3 errors · ETA 0:08 · elapsed 0:02\n"
    )
    progress.close()  # nothing new since the last line
    assert out.getvalue().count("\n") == 1
    clock.now += 2.0
    progress.update(10_000, 3)  # also past the interval: printed
    progress.close()
    assert (
        out.getvalue().splitlines()[-1].startswith("batch: 10,000/10,000 (100%) · 2,500 inputs/s")
    )
    assert out.getvalue().count("\n") == 2


def test_plain_counts_resumed_inputs_but_rates_this_run() -> None:
    out = io.StringIO()
    clock = _Clock()
    progress = PlainProgress(100, out, initial=50, interval=1.0, clock=clock)
    clock.now += 10.0
    progress.update(10, 0)
    assert out.getvalue().startswith("batch: 60/100 (60%) · 1 inputs/s · 0 errors · ETA 0:40")


def test_no_stream_means_no_progress() -> None:
    progress = make_progress(10, None)
    progress.update(5, 0)
    progress.close()


def test_plain_when_not_a_terminal() -> None:
    assert isinstance(make_progress(10, io.StringIO()), PlainProgress)


def test_tqdm_bar_on_a_terminal() -> None:
    pytest.importorskip("tqdm")
    out = _Tty()
    progress = make_progress(1_000, out, desc="job")
    assert not isinstance(progress, PlainProgress)
    progress.update(400, 2)
    progress.update(1_000, 7)
    progress.close()
    text = out.getvalue()
    assert "job" in text
    assert "1000/1000" in text
    assert "errors=7" in text


def test_plain_on_a_terminal_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm → ImportError
    assert isinstance(make_progress(10, _Tty()), PlainProgress)
