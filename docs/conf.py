"""Sphinx configuration. The build is offline: no intersphinx inventories."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sprockets_http  # noqa: E402

project = "sprockets_http"
author = "sprockets_http developers"
copyright = "sprockets_http developers"  # noqa: A001
release = sprockets_http.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]

# Sections of the README and the pages share names ("Set up", ...); no
# automatic section labels, so no duplicate-label warnings.
exclude_patterns = ["_build"]
master_doc = "index"
language = "en"
pygments_style = "sphinx"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

try:
    import sphinx_rtd_theme  # noqa: F401
except ImportError:  # the docs extra not installed: Sphinx's own theme
    html_theme = "alabaster"
else:
    html_theme = "sphinx_rtd_theme"
html_title = f"sprockets_http {release}"
# The project's stylesheet (tables that wrap, figures that scale): loaded on
# every page, with either theme.
html_static_path = ["_static"]
html_css_files = ["sprockets_http.css"]
