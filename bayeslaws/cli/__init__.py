"""The ``bayeslaws`` command line (the contract of DESIGN.md).

Exit codes: 0 success (warnings go to stderr); 2 bad input or arguments, with a one-line reason on
stderr; 1 an internal error, with a one-line message suggesting ``--debug`` for the traceback;
130 interrupted (Ctrl-C), with a one-line message and no partial output file.

The package: :mod:`~bayeslaws.cli.parser` (subcommands and flags), :mod:`~bayeslaws.cli.commands`
and :mod:`~bayeslaws.cli.optimal` (what each does), :mod:`~bayeslaws.cli.output` (tables, CSVs,
reading runs), :mod:`~bayeslaws.cli.interrupt` (Ctrl-C); :func:`main` runs one command.
"""

from __future__ import annotations

import os
import sys
import warnings

from ..progress import PROGRESS
from .commands import (cmd_compare, cmd_datasets, cmd_demo, cmd_design, cmd_fit, cmd_laws,
                       cmd_plot, cmd_predict, cmd_report)
from .interrupt import INTERRUPT_MESSAGE, INTERRUPTED, _InterruptGuard
from .optimal import cmd_optimal
from .parser import UsageError, build_parser

BAD_INPUT = 2
INTERNAL = 1

COMMANDS = {"datasets": cmd_datasets, "laws": cmd_laws, "fit": cmd_fit, "predict": cmd_predict,
            "optimal": cmd_optimal, "design": cmd_design, "compare": cmd_compare,
            "plot": cmd_plot, "report": cmd_report,
            "demo": cmd_demo}


#: Warning lines printed by this run of :func:`main`: each is printed once, however often a
#: step of the command re-checks the same data (filters reset by ``catch_warnings`` would
#: otherwise let Python show it again).
_SHOWN: set[str] = set()


def _showwarning(message, category, filename, lineno, file=None, line=None):
    text = f"warning: {category.__name__}: {message}"
    if text not in _SHOWN:
        _SHOWN.add(text)
        print(text, file=sys.stderr)


def _load_plugins(args) -> None:
    """Import the --plugin modules (before and after the subcommand), so their laws exist."""
    from ..plugins import load_plugins

    load_plugins(list(getattr(args, "plugins", None) or [])
                 + list(getattr(args, "sub_plugins", None) or []))


def main(argv=None) -> int:
    """Run the CLI; return the exit code (also used as the console-script entry point)."""
    from ..errors import BayeslawsError

    program = argv is None  # run as the `bayeslaws` program, not called from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    warnings.showwarning = _showwarning
    _SHOWN.clear()
    guard = _InterruptGuard()
    try:
        with guard:
            _load_plugins(args)
            COMMANDS[args.command](args)
    except (BayeslawsError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        guard.handled.set()
        PROGRESS.abandon()
        print(f"error: {INTERRUPT_MESSAGE}", file=sys.stderr, flush=True)
        if program:
            # a sampler interrupted mid-computation may keep running in JAX's threads and hold
            # up interpreter shutdown; saves have already removed their temporary files
            sys.stdout.flush()
            os._exit(INTERRUPTED)
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001  the contract: never a bare traceback
        if debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"internal error: {type(exc).__name__}: {first} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return INTERNAL
    return 0


__all__ = ["BAD_INPUT", "COMMANDS", "INTERNAL", "INTERRUPTED", "INTERRUPT_MESSAGE", "UsageError",
           "build_parser", "main"]
