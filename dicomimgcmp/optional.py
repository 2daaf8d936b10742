"""Optional libraries: whether one is installed, and importing one a configured feature needs, with the command
that installs it (the one place that knows which requirements file brings which library)."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from dicomimgcmp.errors import MissingDependency

#: The command that installs each optional library.
INSTALL = {"rapidocr": "pip install -r requirements-text.txt",
           "distributed": "pip install -r requirements-distributed.txt",
           "dicomsdl": "pip install -r requirements.txt"}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, feature: str) -> ModuleType:
    """``module``, imported; :class:`~dicomimgcmp.errors.MissingDependency` when it is not installed, naming
    ``feature`` (what needs it, as the config says it) and the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"{feature}, but {module} is not installed: {install_hint(module)}") from None


def optional(module: str) -> ModuleType | None:
    """``module``, imported, or None when it is not installed (a feature that only makes things faster)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def install_hint(module: str) -> str:
    return INSTALL.get(module.partition(".")[0], f"pip install {module}")
