"""Built-in solvers: importing this package registers every method family it contains.

Each subpackage registers its solvers on import; this package is the ``builtin`` entry
point of the ``sciml.solvers`` group, the same mechanism third-party plugins use.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
