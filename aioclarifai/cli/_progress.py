"""Progress display of ``aioclarifai batch``: a tqdm bar on a terminal, plain lines otherwise.

tqdm is optional (the ``cli`` extra) and imported only when a bar is shown.
Both displays take absolute counts from a ticker, so the per-input hot path
only bumps integers.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, TextIO

__all__ = ["PlainProgress", "Progress", "TqdmProgress", "format_duration", "make_progress"]


class Progress(Protocol):
    """What the batch job reports to: counts for this run, then ``close``."""

    def update(self, done: int, errors: int) -> None:
        """Show ``done`` inputs finished by this run, ``errors`` of them failed."""

    def close(self) -> None:
        """Draw the final state and release the display."""


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03`` for a duration in seconds."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlainProgress:
    """One line every ``interval`` seconds: done/total, inputs/s, errors, ETA."""

    def __init__(
        self,
        total: int | None,
        stream: TextIO,
        *,
        initial: int = 0,
        interval: float = 2.0,
        desc: str = "batch",
        clock: Any = time.monotonic,
    ) -> None:
        self._total = total
        self._initial = initial
        self._stream = stream
        self._interval = interval
        self._desc = desc
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._done = 0
        self._errors = 0
        self._printed_done = -1

    def update(self, done: int, errors: int) -> None:
        """Remember the counts; print a line when ``interval`` has passed."""
        self._done, self._errors = done, errors
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._print(now)

    def close(self) -> None:
        """Print the final line (unless it is already the last one printed)."""
        if self._done != self._printed_done:
            self._print(self._clock())

    def _print(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self._done / elapsed
        shown = self._initial + self._done
        parts = [f"{self._desc}: {shown:,}"]
        if self._total is not None:
            pct = 100.0 * shown / self._total if self._total else 100.0
            parts[0] += f"/{self._total:,} ({pct:.0f}%)"
        parts.append(f"{rate:,.0f} inputs/s")
        parts.append(f"{self._errors:,} errors")
        if self._total is not None and rate > 0:
            parts.append(f"ETA {format_duration((self._total - shown) / rate)}")
        parts.append(f"elapsed {format_duration(elapsed)}")
        print(" · ".join(parts), file=self._stream, flush=True)
        self._printed_done = self._done


class TqdmProgress:
    """A tqdm bar: done/total, percentage, inputs/s, ETA, and errors as a postfix."""

    def __init__(
        self, total: int | None, stream: TextIO, *, initial: int = 0, desc: str = "batch"
    ) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit=" inputs",
            file=stream,
            dynamic_ncols=True,
            mininterval=0.2,
            smoothing=0.1,
        )
        self._bar.set_postfix_str("errors=0", refresh=False)
        self._done = 0
        self._errors = 0

    def update(self, done: int, errors: int) -> None:
        """Advance the bar to ``done`` and show the error count."""
        if errors != self._errors:
            self._errors = errors
            self._bar.set_postfix_str(f"errors={errors:,}", refresh=False)
        if done != self._done:
            self._bar.update(done - self._done)
            self._done = done

    def close(self) -> None:
        """Draw the bar one last time and leave it on screen."""
        self._bar.refresh()
        self._bar.close()


class _NoProgress:
    def update(self, done: int, errors: int) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(
    total: int | None,
    stream: TextIO | None,
    *,
    initial: int = 0,
    desc: str = "batch",
    interval: float = 2.0,
) -> Progress:
    """A tqdm bar when ``stream`` is a terminal and tqdm is installed, else plain lines.

    ``stream`` None shows nothing.
    """
    if stream is None:
        return _NoProgress()
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        try:
            return TqdmProgress(total, stream, initial=initial, desc=desc)
        except ImportError:
            pass  # tqdm is the optional ``cli`` extra; plain lines do without it
    return PlainProgress(total, stream, initial=initial, desc=desc, interval=interval)
