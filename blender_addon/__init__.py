"""Doppel for Blender: reconstruct, generate and animate rigged avatars from a Doppel server.

Layout (after glTF-Blender-IO): ``io/`` is bpy-free (decode avatars, convert arrays, motion
maths) and is tested without Blender; ``blender/`` builds Blender data and holds the UI.
Nothing here imports bpy at module level, so ``io/`` stays importable anywhere.
"""


def register() -> None:
    from .blender import registration
    registration.register()


def unregister() -> None:
    from .blender import registration
    registration.unregister()
