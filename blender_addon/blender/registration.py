"""Registers every add-on module in order. Each listed module exposes ``CLASSES`` (registered
in order, unregistered in reverse) and may expose ``register_extra()`` / ``unregister_extra()``
for timers, handlers and properties."""

from __future__ import annotations

import importlib

# Modules of blender_addon.blender, in registration order (preferences and properties first,
# panels last). Add a module here when it defines Blender classes.
MODULES: tuple[str, ...] = (
    "prefs", "properties", "operators_server", "operators_body", "panels",
    "ops_motion", "ui_motion", "ui_batch", "ui_reconstruct", "ui_turntable", "ui_export",
    "ops_generate", "ui_generate",
)


def _modules():
    return [importlib.import_module(f"{__package__}.{name}") for name in MODULES]


def register() -> None:
    import bpy
    for mod in _modules():
        for cls in getattr(mod, "CLASSES", ()):
            bpy.utils.register_class(cls)
        if hasattr(mod, "register_extra"):
            mod.register_extra()


def unregister() -> None:
    import bpy
    for mod in reversed(_modules()):
        if hasattr(mod, "unregister_extra"):
            mod.unregister_extra()
        for cls in reversed(getattr(mod, "CLASSES", ())):
            if getattr(cls, "is_registered", False):
                bpy.utils.unregister_class(cls)
