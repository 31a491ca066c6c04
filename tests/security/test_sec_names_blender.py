"""Issue 18, point 5: an avatar name from the server never steers where the add-on writes.
Real headless Blender: Keep/import saves `../../x` inside doppel_avatars/."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from avatar_samples import tiny_avatar  # noqa: E402

pytestmark = pytest.mark.blender


@pytest.mark.parametrize("name", ["../../x", "{tmp}/absolute", "..", "a/../../b", "C:\\evil"])
def test_a_server_name_cannot_leave_doppel_avatars(name, tmp_path):
    # Absolute names point into tmp_path: a regression must not write anywhere real.
    name = name.format(tmp=tmp_path)
    from blender_addon.blender import ops_generate
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blend = tmp_path / "project" / "scene.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    built = ops_generate.import_kept(bpy.context, tiny_avatar(name))
    saved = ops_generate.avatar_folder().resolve()
    path = (tmp_path / "project" / "doppel_avatars").resolve()
    assert saved == path
    kept = built.armature[ops_generate.FILE_PROP]
    assert kept.startswith(str(path) + "/") and "/" not in kept[len(str(path)) + 1:]
    assert sorted(p.name for p in tmp_path.rglob("*.doppel")) == [kept.rsplit("/", 1)[1]]
