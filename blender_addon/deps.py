"""Where the shared `protocol` and `rig` packages come from: vendored inside the extension zip
(build_addon.py copies them to ``<addon>/protocol`` and ``<addon>/rig``), or the repository
checkout."""

import importlib

try:  # inside the installed extension (by name, so `io/` never looks as if it imported the
    # add-on package, whose registration imports bpy)
    protocol = importlib.import_module(f"{__package__}.protocol")
    rig = importlib.import_module(f"{__package__}.rig")
except ImportError:
    import protocol  # noqa: F401  # repository checkout / development
    import rig  # noqa: F401

__all__ = ["protocol", "rig"]
