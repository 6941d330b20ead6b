"""A progress line for compiled samplers, fed from inside the running XLA program.

The batched NUTS program (:mod:`bayeslaws.batch`) calls :meth:`Progress.tick` through
``jax.debug.callback`` every :func:`progress_every` iterations of each lane (chain). The program
is the same whether progress is shown or not (a callback with nothing to show returns at once), so
showing progress never changes the draws. One line on stderr, rewritten in place::

    bayeslaws: sampling 4 chains (1000 warm-up + 1000 draws):  62% | 2.4 s, ~1.5 s left
"""

from __future__ import annotations

import sys
import threading
import time

#: Ticks per lane over a whole run (warm-up and draws): one every 2% of the iterations.
TICKS_PER_LANE = 50
#: Seconds between two redraws of the line on a terminal, and in a log file (not a terminal).
REDRAW_S, REDRAW_LOG_S = 0.25, 10.0


def progress_every(tune: int, draws: int) -> int:
    """Iterations of one lane between two ticks."""
    return max(1, (int(tune) + int(draws)) // TICKS_PER_LANE)


class Progress:
    """Host side of the progress line: counts ticks (from any thread) and redraws the line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = False
        self._stream = sys.stderr

    def start(self, label: str, total_ticks: int, stream=None) -> None:
        """Show ``label`` and a percentage of ``total_ticks`` until :meth:`stop`."""
        with self._lock:
            self._label, self._total, self._done = label, max(1, int(total_ticks)), 0
            self._stream = stream or sys.stderr
            isatty = getattr(self._stream, "isatty", lambda: False)
            self._every_s = REDRAW_S if isatty() else REDRAW_LOG_S
            self._start = self._drawn = time.perf_counter()
            self._first = None  # (time, ticks) of the first tick: compile time is not a rate
            self._active = True
            self._draw(force=True)

    def tick(self) -> None:
        """One more tick (called by the compiled program; cheap when nothing is shown)."""
        if not self._active:
            return
        with self._lock:
            if not self._active:
                return
            self._done += 1
            if self._first is None:
                self._first = (time.perf_counter(), self._done)
            self._draw()

    def stop(self) -> float:
        """End the line (a newline) and return the seconds since :meth:`start`."""
        with self._lock:
            if not self._active:
                return 0.0
            self._done = self._total
            self._draw(force=True)
            self._active = False
            self._stream.write("\n")
            self._stream.flush()
            return time.perf_counter() - self._start

    def abandon(self) -> None:
        """End a line cut short (Ctrl-C) so that the next message starts on its own line. Safe
        from another thread: it does not wait for a lock a stuck thread may hold."""
        if self._active:
            self._active = False
            try:
                self._stream.write("\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._drawn < self._every_s:
            return
        self._drawn = now
        share = min(1.0, self._done / self._total)
        spent = now - self._start
        left = ""
        if self._first is not None and self._done > self._first[1] and share < 1:
            rate = (self._done - self._first[1]) / (now - self._first[0])  # ticks per second
            left = f", ~{(self._total - self._done) / rate:.1f} s left"
        self._stream.write(f"\r{self._label}: {100 * share:3.0f}% | {spent:.1f} s{left}   ")
        self._stream.flush()


#: The process's one progress line (the compiled programs hold a reference to its ``tick``).
PROGRESS = Progress()
