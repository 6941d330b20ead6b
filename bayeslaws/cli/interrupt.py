"""Ctrl-C that ends a command promptly, even inside compiled sampler code."""

from __future__ import annotations

import os
import signal
import sys
import threading

from ..progress import PROGRESS

INTERRUPTED = 130
INTERRUPT_MESSAGE = "interrupted; nothing was written"


class _InterruptGuard:
    """Make Ctrl-C end a command promptly, even inside compiled sampler code.

    Python raises ``KeyboardInterrupt`` only between bytecodes, so a Ctrl-C during a long JAX
    computation would wait for the sampler to finish. A watchdog thread woken through
    :func:`signal.set_wakeup_fd` gives the normal path ``grace`` seconds (``KeyboardInterrupt`` is
    caught, unfinished saves remove their temporary files, exit code 130). When the main thread
    is still stuck after that, the watchdog removes the temporary files itself, prints the
    one-line message and ends the process with exit code 130. Earlier results are never touched:
    saves replace their target only once complete. Outside the main thread it does nothing.
    """

    def __init__(self, grace: float = 1.0):
        self.grace = grace
        self.handled = threading.Event()
        self._pipe = None
        self._old = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            self._old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except ValueError:  # not the main interpreter
            os.close(r)
            os.close(w)
            return self
        self._pipe = (r, w)
        threading.Thread(target=self._watch, args=(r,), daemon=True,
                         name="bayeslaws-interrupt").start()
        return self

    def _watch(self, r: int) -> None:
        try:
            while True:
                byte = os.read(r, 1)
                if not byte:  # the guard was closed
                    return
                if byte[0] == signal.SIGINT:
                    break
            if self.handled.wait(self.grace):
                return
            from ..files import remove_pending

            remove_pending()
            PROGRESS.abandon()
            print(f"error: {INTERRUPT_MESSAGE}", file=sys.stderr, flush=True)
            os._exit(INTERRUPTED)
        finally:
            os.close(r)

    def __exit__(self, *exc):
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old if self._old is not None else -1)
            os.close(self._pipe[1])  # wakes the watchdog with end-of-file
            self._pipe = None
        return False
