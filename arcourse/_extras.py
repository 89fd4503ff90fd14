"""Optional dependencies: import one, or say which `pip install arcourse[EXTRA]` brings it.

The core install (`pip install arcourse`) holds what the library needs to import and run;
the autograder, the panels, the notebook build and the website need more, grouped as the
extras of pyproject.toml. A feature used without its extra fails with an ImportError that
names the extra, not with a bare "No module named ...".
"""
from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise an ImportError telling how to install `feature`.

    Args:
        module: the module to import, e.g. "ipywidgets".
        extra: the pyproject extra that installs it, e.g. "widgets".
        feature: what needs it, for the message, e.g. "the interactive panels".
    Returns:
        the imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is not None and err.name != module.split(".")[0] and err.name != module:
            raise  # the module exists but is broken: show the real error
        raise ImportError(
            f"{feature} needs the '{module}' package, which the core install of arcourse leaves out: "
            f"pip install 'arcourse[{extra}]' (in a notebook: %pip install 'arcourse[{extra}]')",
            name=module,
        ) from err
