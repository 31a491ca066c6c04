"""Add-on preferences: where the Doppel server listens.

``bl_idname`` must be the add-on's package name, which differs between an installed extension
(``bl_ext.user_default.doppel``) and a development checkout (``blender_addon``).
"""

from __future__ import annotations

import bpy

from ..deps import protocol

ADDON_PACKAGE = __package__.rpartition(".")[0]    # this file lives in <addon>/blender/


def default_server_command() -> str:
    """`doppel serve` from the virtualenv this add-on runs from in development, else the
    `doppel` on PATH."""
    import shutil
    import sys
    from pathlib import Path
    candidate = Path(sys.prefix) / "bin" / "doppel"
    found = str(candidate) if candidate.exists() else shutil.which("doppel") or "doppel"
    return f"{found} serve"


class DOPPEL_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    server_address: bpy.props.StringProperty(
        name="Server address", default=protocol.DEFAULT_ADDRESS,
        description="ZeroMQ address of the Doppel server, e.g. tcp://127.0.0.1:5557")
    reply_timeout: bpy.props.FloatProperty(
        name="Reply timeout", default=3.0, min=0.5, max=60.0, unit="TIME_ABSOLUTE",
        description="Seconds without an answer before the server counts as unreachable")

    server_key_file: bpy.props.StringProperty(
        name="Server public key", subtype="FILE_PATH", default="",
        description="The server's server.key (from `doppel keys init`); needed for a server on "
                    "another machine (CurveZMQ), empty for a local one")
    client_key_file: bpy.props.StringProperty(
        name="Client key pair", subtype="FILE_PATH", default="",
        description="This artist's client.key_secret (from `doppel keys init`; its public half "
                    "must be in the server's allowed_clients)")

    server_command: bpy.props.StringProperty(
        name="Server command", default=default_server_command(),
        description="Command that runs the server for \"Start Local Server\" "
                    "(--bind ADDRESS is appended)")

    def draw(self, context):
        col = self.layout.column()
        for name in ("server_address", "reply_timeout", "server_key_file", "client_key_file",
                     "server_command"):
            col.prop(self, name)


def preferences(context=None):
    """The add-on preferences, or None when the add-on was registered by hand (tests,
    scripts) instead of enabled through Blender's preferences."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon else None


CLASSES = (DOPPEL_AP_preferences,)
