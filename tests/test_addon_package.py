"""build_addon.py: the extension zip an artist installs, checked the way Blender checks it and
then installed into a fresh headless Blender (bpy 5.0.1) with its own user folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import build_addon  # noqa: E402

pytestmark = pytest.mark.blender

INSTALL_SCRIPT = r"""
import json, os, sys
import bpy
zip_path, avatar_path, out_path = sys.argv[1:4]
bpy.ops.wm.read_factory_settings(use_empty=True)
result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                  enable_on_install=True)
pkg = "bl_ext.user_default.doppel"
addon = bpy.context.preferences.addons.get(pkg)
report = {
    "result": sorted(result),
    "enabled": addon is not None,
    "address": addon.preferences.server_address if addon else None,
    "panels": [n for n in dir(bpy.types) if n.startswith("DOPPEL_PT_")],
    "operators": [n for n in dir(bpy.ops.doppel)],
    "protocol_file": sys.modules[pkg + ".protocol"].__file__,
    "rig_file": sys.modules[pkg + ".rig"].__file__,
}
bpy.ops.doppel.import_avatar(filepath=avatar_path)
report["armatures"] = [o.name for o in bpy.data.objects if o.type == "ARMATURE"]
try:  # the bundled pyzmq wheel has to load for this to get as far as the network
    bpy.context.window_manager.doppel_connection.address = "tcp://127.0.0.1:1"
    addon.preferences.server_address = "tcp://127.0.0.1:1"
    addon.preferences.reply_timeout = 0.5
    bpy.ops.doppel.connect()
except RuntimeError as exc:
    report["connect_error"] = str(exc)
report["zmq_file"] = sys.modules["zmq"].__file__ if "zmq" in sys.modules else None
with open(out_path, "w") as fh:
    json.dump(report, fh)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    try:
        (zip_path,) = build_addon.build(out)
    except build_addon.BuildError as exc:
        pytest.skip(f"pyzmq wheels not cached and not downloadable here: {exc}")
    return zip_path


def test_zip_has_manifest_code_protocol_rig_and_wheels(built):
    assert built.name == "doppel-0.1.0.zip"
    with zipfile.ZipFile(built) as zf:
        names = set(zf.namelist())
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "doppel"
    assert manifest["type"] == "add-on" and manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:Apache-2.0"]
    assert set(manifest["permissions"]) == {"network", "files"}
    assert set(manifest["platforms"]) == {"linux-x64", "windows-x64", "macos-arm64", "macos-x64"}
    wheels = manifest["wheels"]
    assert all(w.startswith("./wheels/pyzmq-") and w[2:] in names for w in wheels)
    tags = " ".join(wheels)
    for tag in ("manylinux", "win_amd64", "macosx"):
        assert tag in tags
    assert all("cp311" in w for w in wheels)
    assert {"__init__.py", "deps.py", "protocol/__init__.py", "protocol/client.py",
            "rig/__init__.py", "rig/kinematics.py", "rig/motion/bvh.py",
            "blender/builder/__init__.py", "io/mesh_arrays.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_blender_accepts_the_manifest(built):
    import bpy  # noqa: F401  (only to find Blender's own extension validator)
    validator = (Path(sys.modules["bpy"].__file__).parents[2] / "addons_core" / "bl_pkg" /
                 "cli" / "blender_ext.py")
    proc = subprocess.run([sys.executable, str(validator), "validate", str(built)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_split_platform_zips_hold_only_their_wheels(built, tmp_path):
    zips = build_addon.build(tmp_path, split_platforms=True, offline=True)
    assert len(zips) == 4
    for path in zips:
        platform = path.stem.split("-", 2)[2]
        with zipfile.ZipFile(path) as zf:
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
        assert manifest["platforms"] == [platform]
        (wheel,) = manifest["wheels"]
        expected = {"linux-x64": "manylinux", "windows-x64": "win_amd64",
                    "macos-arm64": "macosx", "macos-x64": "macosx"}[platform]
        assert expected in wheel


def test_install_from_zip_in_headless_blender(built, anny_avatar_file, tmp_path):
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    report_path = tmp_path / "report.json"
    user = tmp_path / "blender-user"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(user)}
    proc = subprocess.run([sys.executable, str(script), str(built), str(anny_avatar_file),
                           str(report_path)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["result"] == ["FINISHED"] and report["enabled"]
    assert report["address"] == "tcp://127.0.0.1:5557"
    assert {"DOPPEL_PT_server", "DOPPEL_PT_body"} <= set(report["panels"])
    assert {"connect", "add_body", "import_avatar"} <= set(report["operators"])
    # The extension runs its vendored protocol and rig copies, not the repository's.
    assert report["protocol_file"].startswith(str(user))
    assert report["rig_file"].startswith(str(user))
    assert report["armatures"] == ["TestBody"]
    assert "cannot reach server at tcp://127.0.0.1:1" in report["connect_error"]
    # Blender unpacked the bundled wheel into the user folder.
    site = user / "extensions" / ".local" / "lib" / "python3.11" / "site-packages"
    assert (site / "zmq").is_dir()
