"""Where a user's law lives: import plugins, record a law's origin, name the fix when it is missing.

A law defined outside bayeslaws (a subclass of :class:`bayeslaws.laws.Law` registered with
:func:`bayeslaws.laws.register`, or :func:`bayeslaws.laws.define`) exists in a process only once
the module that defines it has been imported. This module

* imports such a module from a file path or a module name (:func:`load_plugin`; the command
  line's ``--plugin``),
* records where a law class was defined (:func:`origin`: its module and, when that module is a
  file, the file's absolute path; :func:`bayeslaws.io.save` writes it into the fit file), and
* words the error of a fit whose law is not registered here (:func:`missing_law_message`),
  naming the file and the two ways to register it.

Loading a fit never imports the recorded module by itself: a fit file is data, and opening it
must not run code that the user has not asked for. Installed packages can instead declare their
laws in the entry-point group ``bayeslaws.laws`` (name = the law's name, value = the module or
class); :func:`bayeslaws.laws.get` loads that entry point when the name is not registered yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from .errors import BayeslawsError

#: Entry-point group through which installed packages provide laws.
ENTRY_POINT_GROUP = "bayeslaws.laws"


def _module_name_for(path: str) -> str:
    """The module name under which a plugin file is imported: its stem (``my_law.py`` ->
    ``my_law``), so that pickles and ``__module__`` read as the user wrote them."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.replace("-", "_").replace(".", "_") or "bayeslaws_plugin"


def load_plugin(spec: str):
    """Import a plugin: a ``.py`` file path or an importable module name; return the module.

    Parameters
    ----------
    spec : str
        ``path/to/my_law.py`` (imported as module ``my_law``, its folder put first on
        ``sys.path`` so that it can import its siblings) or ``package.module``.

    Raises
    ------
    BayeslawsError
        When the file does not exist, or the module cannot be found or fails to import (the
        error names the plugin and the exception).
    """
    spec = str(spec)
    is_file = spec.endswith(".py") or os.sep in spec or (os.altsep and os.altsep in spec)
    try:
        if is_file:
            path = os.path.abspath(spec)
            if not os.path.isfile(path):
                raise BayeslawsError(f"--plugin {spec}: no such file ({path}); give the .py file "
                                     "that defines your law, or an importable module name")
            name = _module_name_for(path)
            loaded = sys.modules.get(name)
            if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == path:
                return loaded
            folder = os.path.dirname(path)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return module
        return importlib.import_module(spec)
    except BayeslawsError:
        raise
    except ModuleNotFoundError as exc:
        if not is_file and exc.name == spec.split(".")[0]:
            raise BayeslawsError(f"--plugin {spec}: no module named {exc.name!r}; give a path "
                                 "to the .py file (e.g. --plugin ./my_law.py) or put its folder "
                                 "on PYTHONPATH") from None
        raise BayeslawsError(f"--plugin {spec} failed to import: ModuleNotFoundError: {exc}") from None
    except Exception as exc:  # noqa: BLE001  the user's code: say which plugin failed and how
        raise BayeslawsError(f"--plugin {spec} failed to import: {type(exc).__name__}: {exc}") from None


def load_plugins(specs) -> list:
    """:func:`load_plugin` each of ``specs`` (None or empty: nothing); return the modules."""
    return [load_plugin(s) for s in (specs or [])]


def origin(cls: type) -> dict:
    """Where a law class was defined: ``{"module": name, "file": absolute path or None}``.

    ``file`` is the module's source file when it has one (a plugin file, a script run as
    ``__main__``); built-in laws give their ``bayeslaws.laws.*`` module.
    """
    name = getattr(cls, "__module__", None) or ""
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    return {"module": name, "file": os.path.abspath(path) if path else None}


def missing_law_message(name: str, where: dict | None) -> str:
    """The reason a fit of law ``name`` cannot be rebuilt here, and the fix.

    ``where`` is the :func:`origin` recorded in the fit file (None for files written before
    origins were recorded).
    """
    head = f"law {name!r} is not registered in this process"
    where = where or {}
    module, path = where.get("module") or "", where.get("file")
    if not module and not path:
        return (f"{head}; import the module that defines it (and registers it with "
                "bayeslaws.laws.register or bayeslaws.laws.define) first, or pass "
                "--plugin MODULE.py on the command line")
    if path:
        stem = os.path.splitext(os.path.basename(path))[0]
        importable = module if module and module != "__main__" else stem
        return (f"{head}: it was defined in {path}; import it first (`import {importable}`) or "
                f"pass `--plugin {path}` on the command line")
    return (f"{head}: it was defined in module {module!r}; import it first (`import {module}`) "
            f"or pass `--plugin {module}` on the command line")


def load_entry_point(name: str) -> bool:
    """Load the ``bayeslaws.laws`` entry point named ``name`` (if an installed package declares
    one); return whether one was loaded. Loading it registers the law it defines."""
    from importlib.metadata import entry_points

    try:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    except Exception:  # noqa: BLE001  broken metadata of some other package: no plugin
        return False
    for ep in found:
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001
            raise BayeslawsError(f"entry point {ENTRY_POINT_GROUP}:{name} ({ep.value}) failed to "
                                 f"load: {type(exc).__name__}: {exc}") from None
    return bool(found)


__all__ = ["ENTRY_POINT_GROUP", "load_entry_point", "load_plugin", "load_plugins",
           "missing_law_message", "origin"]
