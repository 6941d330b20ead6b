"""A progress line for compiled samplers, fed from inside the running XLA program.

The batched NUTS program (:mod:`bayeslaws.batch`) calls :meth:`Progress.tick` through
``jax.debug.callback`` every :func:`progress_every` iterations of each lane (chain). The program
is the same whether progress is shown or not (a callback with nothing to show returns at once), so
showing progress never changes the draws. On a terminal, one line on stderr, rewritten in
place::

    bayeslaws: sampling 4 chains (1000 warm-up + 1000 draws):  62% | 2.4 s, ~1.5 s left

In a log (stderr not a terminal) the line is written once when the step starts and once when it
ends, so logs stay short. :class:`Steps` does the same for host-side jobs of a few slow steps
(refits, figures), and :meth:`Progress.titled` names the step a sampler runs for (the
calibration backtests, a refit of ``compare``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

#: Ticks per lane over a whole run (warm-up and draws): one every 2% of the iterations.
TICKS_PER_LANE = 50
#: Seconds between two redraws of the line on a terminal. A log file (not a terminal) gets one
#: line when a step starts and one when it ends, nothing in between.
REDRAW_S, REDRAW_LOG_S = 0.25, float("inf")


def progress_every(tune: int, draws: int) -> int:
    """Iterations of one lane between two ticks."""
    return max(1, (int(tune) + int(draws)) // TICKS_PER_LANE)


class Progress:
    """Host side of the progress line: counts ticks (from any thread) and redraws the line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = False
        self._stream = sys.stderr
        self._tty = False
        self._title = None

    @contextlib.contextmanager
    def titled(self, title: str):
        """Name the step that the lines started inside this block belong to, e.g. the calibration
        backtests, instead of the plain "sampling" line (and no per-batch summary line)."""
        before = self._title
        self._title = title if before is None else f"{before}; {title}"
        try:
            yield
        finally:
            self._title = before

    @property
    def title(self) -> str | None:
        """The step named by :meth:`titled` (None outside it)."""
        return self._title

    def start(self, label: str, total_ticks: int, stream=None, *, compiles: bool = True) -> None:
        """Show ``label`` and a percentage of ``total_ticks`` until :meth:`stop`; ``compiles``:
        the first tick waits for a compile (said so; not counted in the rate)."""
        if self._title:
            label = f"bayeslaws: {self._title}"
        with self._lock:
            self._label, self._total, self._done = label, max(1, int(total_ticks)), 0
            self._stream = stream or sys.stderr
            isatty = getattr(self._stream, "isatty", lambda: False)
            self._tty = bool(isatty())
            self._every_s = REDRAW_S if self._tty else REDRAW_LOG_S
            self._start = self._drawn = time.perf_counter()
            # (time, ticks) of the first tick: compile time is not a rate
            self._first = None if compiles else (self._start, 0)
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
            if self._tty:
                self._stream.write("\n")
                self._stream.flush()
            return time.perf_counter() - self._start

    def abandon(self) -> None:
        """End a line cut short (Ctrl-C) so that the next message starts on its own line. Safe
        from another thread: it does not wait for a lock a stuck thread may hold."""
        if self._active:
            self._active = False
            try:
                self._stream.write("\n" if self._tty else "(interrupted)\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and (not self._tty or now - self._drawn < self._every_s):
            return  # a log (not a terminal) gets a line when a step starts and when it ends
        self._drawn = now
        share = min(1.0, self._done / self._total)
        spent = now - self._start
        left = ""
        if self._first is not None and self._done > self._first[1] and share < 1:
            rate = (self._done - self._first[1]) / (now - self._first[0])  # ticks per second
            left = f", ~{(self._total - self._done) / rate:.1f} s left"
        elif self._first is None and share < 1:
            # before the first tick: XLA compiles the sampler (seconds; cached after first use)
            left = ", starting: compiling the sampler"
        text = f"{self._label}: {100 * share:3.0f}% | {spent:.1f} s{left}"
        self._stream.write(f"\r{text}   " if self._tty else f"{text}\n")
        self._stream.flush()


#: The process's one progress line (the compiled programs hold a reference to its ``tick``).
PROGRESS = Progress()


class Steps:
    """A progress line for a job of a few slow steps on the host (refits, figures, tables)::

        bayeslaws report: figure 3 of 7 (isoflop): 43% | 5.1 s, ~6.8 s left

    Its own line, apart from :data:`PROGRESS` (which the compiled samplers feed), so a sampler
    running inside a step never moves it. Shown only when ``show`` is true (a terminal or a log:
    the redraw rate follows :class:`Progress`); the estimate is the mean time per finished step.
    """

    def __init__(self, label: str, total: int, *, show: bool = True, stream=None):
        self._line = Progress() if show else None
        self._label, self._total, self._done = label, max(1, int(total)), 0
        self._stream = stream

    def __enter__(self) -> "Steps":
        return self

    def step(self, what: str) -> None:
        """Say that the next step, ``what``, begins (after ``self._done`` finished ones)."""
        if self._line is None:
            return
        line = self._line
        if not line._active:
            line.start(f"{self._label}: {what}", self._total, stream=self._stream, compiles=False)
            return
        with line._lock:
            line._label = f"{self._label}: {what}"
            line._done = self._done
            line._draw(force=True)

    def done(self) -> None:
        """The current step finished."""
        self._done += 1
        if self._line is not None and self._line._active:
            with self._line._lock:
                self._line._done = self._done
                self._line._draw(force=self._line._tty)

    def __exit__(self, *exc) -> None:
        if self._line is not None:
            self._line.stop() if exc[0] is None else self._line.abandon()
