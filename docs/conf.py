"""Sphinx configuration of the bayeslaws documentation (MyST Markdown, autodoc + napoleon)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from bayeslaws import __version__  # noqa: E402

project = "bayeslaws"
author = "bayeslaws developers"
copyright = "bayeslaws developers"  # noqa: A001
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon",
              "sphinx.ext.mathjax", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # dataclass fields are documented once, by autodoc
# numpydoc-style "x : type" descriptions are prose, not cross-reference targets
nitpicky = False
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_title = f"bayeslaws {version}"
html_static_path = []
html_theme_options = {"description": "Hierarchical Bayesian scaling laws with honest uncertainty",
                      "fixed_sidebar": True, "page_width": "1100px"}
