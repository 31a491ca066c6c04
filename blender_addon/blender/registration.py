"""Registers every add-on module in order. Each listed module exposes ``CLASSES`` (registered
in order, unregistered in reverse), may expose ``POINTERS`` ((owner type name, attribute,
property group) triples: settings hung on e.g. ``bpy.types.Scene``), and may expose
``register_extra()`` / ``unregister_extra()`` for timers, handlers and menus."""

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
        for owner, attr, group in getattr(mod, "POINTERS", ()):
            setattr(getattr(bpy.types, owner), attr, bpy.props.PointerProperty(type=group))
        if hasattr(mod, "register_extra"):
            mod.register_extra()


def unregister() -> None:
    import bpy
    for mod in reversed(_modules()):
        if hasattr(mod, "unregister_extra"):
            mod.unregister_extra()
        for owner, attr, _ in reversed(getattr(mod, "POINTERS", ())):
            if hasattr(getattr(bpy.types, owner), attr):
                delattr(getattr(bpy.types, owner), attr)
        for cls in reversed(getattr(mod, "CLASSES", ())):
            if getattr(cls, "is_registered", False):
                bpy.utils.unregister_class(cls)
