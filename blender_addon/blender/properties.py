"""Add-on state kept in Blender: body sliders per scene (saved with the .blend), connection
state per window manager (not saved)."""

from __future__ import annotations

import bpy

from ..deps import protocol
from ..io.job_watch import new_client
from .prefs import default_server_command, preferences

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


def _slider(name: str, description: str):
    return bpy.props.FloatProperty(name=name, default=0.5, min=0.0, max=1.0,
                                   subtype="FACTOR", description=description)


class DoppelBodySettings(bpy.types.PropertyGroup):
    gender: _slider("Gender", "0 female, 1 male")
    age: _slider("Age", "0 newborn, 0.5 adult, 1 old")
    muscle: _slider("Muscle", "Muscle mass")
    weight: _slider("Weight", "Body fat")
    height: _slider("Height", "Body height")
    proportions: _slider("Proportions", "Body proportions, 0 ideal, 1 uncommon")
    name: bpy.props.StringProperty(name="Name", default="Body",
                                   description="Name of the new avatar and its collection")

    def params(self) -> dict[str, float]:
        return {p: float(getattr(self, p)) for p in PHENOTYPES}


class DoppelConnection(bpy.types.PropertyGroup):
    # Used when the add-on was registered without its preferences (scripts, tests).
    address: bpy.props.StringProperty(name="Server", default=protocol.DEFAULT_ADDRESS,
                                      description="ZeroMQ address of the Doppel server")
    state: bpy.props.EnumProperty(
        name="State", default="UNKNOWN",
        items=[("UNKNOWN", "Not connected", ""), ("CONNECTING", "Connecting", ""),
               ("CONNECTED", "Connected", ""), ("FAILED", "Unreachable", "")])
    server_command: bpy.props.StringProperty(name="Server command",
                                             default=default_server_command())
    message: bpy.props.StringProperty(name="Status")
    server_version: bpy.props.StringProperty()
    device: bpy.props.StringProperty()
    job_stage: bpy.props.StringProperty()
    job_fraction: bpy.props.FloatProperty(min=0.0, max=1.0, subtype="FACTOR")


def _server_setting(context, pref_name: str, connection_name: str) -> str:
    """The add-on preferences' ``pref_name``, or the window manager's DoppelConnection
    ``connection_name`` when the add-on was registered without its preferences."""
    context = context or bpy.context
    prefs = preferences(context)
    if prefs is not None:
        return getattr(prefs, pref_name)
    return getattr(context.window_manager.doppel_connection, connection_name)


def server_address(context=None) -> str:
    return _server_setting(context, "server_address", "address")


def server_command(context=None) -> str:
    return _server_setting(context, "server_command", "server_command")


def reply_timeout(context=None) -> float:
    prefs = preferences(context)
    return float(prefs.reply_timeout) if prefs is not None else 3.0


def connect(context=None, address: str | None = None, identity: bytes | None = None,
            token: str | None = None):
    """A client for the configured server, with the CurveZMQ keys from the preferences when
    they are set (a server on another machine)."""
    prefs = preferences(context)
    keys = [bpy.path.abspath(getattr(prefs, name)) if prefs is not None and
            getattr(prefs, name) else None for name in ("server_key_file", "client_key_file")]
    return new_client(address or server_address(context), reply_timeout(context),
                      identity=identity, server_key=keys[0], client_key=keys[1], token=token)


CLASSES = (DoppelBodySettings, DoppelConnection)

POINTERS = (("Scene", "doppel_body", DoppelBodySettings),
            ("WindowManager", "doppel_connection", DoppelConnection))
