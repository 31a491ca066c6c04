"""``removed_on_error()``: whatever a block adds to bpy.data is deleted again if the block
raises, so a failed step never leaves half an avatar (or half a turntable rig) behind.

It compares the datablocks before and after (a set of a few thousand IDs takes well under a
millisecond), so it is cheap enough to wrap every timer step of a modal operator.
"""

from __future__ import annotations

import traceback
from contextlib import contextmanager

import bpy

# Objects first (they use the rest), then the collections that held them, then their data.
STORES = ("objects", "collections", "meshes", "armatures", "cameras", "lights", "materials",
          "images", "actions")


def _snapshot() -> dict[str, set]:
    return {name: set(getattr(bpy.data, name)) for name in STORES}


@contextmanager
def removed_on_error():
    before = _snapshot()
    try:
        yield
    except BaseException:
        remove_added(before)
        raise


def remove_added(before: dict[str, set]) -> None:
    """Delete every datablock not in ``before`` (best effort: the original error matters)."""
    try:
        if bpy.context.mode != "OBJECT":       # removing objects in edit mode can crash
            bpy.ops.object.mode_set(mode="OBJECT")
    except RuntimeError:
        pass
    for name in STORES:
        store = getattr(bpy.data, name)
        for block in set(store) - before[name]:
            try:
                store.remove(block)
            except (ReferenceError, RuntimeError):
                traceback.print_exc()
