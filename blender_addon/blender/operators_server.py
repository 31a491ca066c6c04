"""Server operators: connect (hello, non-blocking in the UI; shows version and device), start a
local server as a child process and wait until it answers, stop it."""

from __future__ import annotations

import math
import time

import bpy

from ..deps import protocol
from ..io.job_watch import HelloWatch
from . import local_server
from .modal_loop import ModalLoop
from .properties import connect, reply_timeout, server_address, server_command

START_TIMEOUT = 120.0      # seconds a fresh server may take to import its models and answer


def _apply(conn, watch: HelloWatch) -> None:
    if watch.info is not None:
        conn.state = "CONNECTED"
        conn.server_version = str(watch.info.get("server_version", ""))
        conn.device = str(watch.info.get("device", ""))
        conn.message = f"Doppel {conn.server_version} on {conn.device}" + (
            f", {watch.nodes} node{'s' * (watch.nodes != 1)}" if watch.nodes else "")
    else:
        conn.state, conn.message = "FAILED", watch.error.message


class _HelloOperator(ModalLoop):
    """Hello on the shared modal loop (modal in a window, blocking from scripts; Esc stops
    waiting). ``_retry_until`` > 0 keeps asking until then (a server that is still starting)."""
    loop_label = "connect"
    script_timeout = math.inf     # HelloWatch's reply timeout and _retry_until bound it
    _retry_until = 0.0

    def _hello(self, context) -> bool:
        conn = context.window_manager.doppel_connection
        try:
            self._client = connect(context)
        except protocol.ProtocolError as exc:
            conn.state, conn.message = "FAILED", exc.message
            self.report({"ERROR"}, exc.message)
            return False
        conn.state, conn.message = "CONNECTING", f"connecting to {self._client.address}"
        self._watch = HelloWatch(self._client, reply_timeout(context), client_name="blender")
        self._cancelled = False
        return True

    def loop_start(self, context) -> bool:
        """Send the first hello; False (reported) when that is impossible."""
        return self._hello(context)

    def loop_step(self, context) -> bool:
        """True while still waiting."""
        if self._watch.step():
            return True
        retry = (self._watch.error is not None and time.monotonic() < self._retry_until
                 and (local_server.running() or not self._retry_until))
        if retry:
            self._client.close()
            self._client = connect(context, address=self._client.address)
            self._watch = HelloWatch(self._client, self._watch.reply_timeout, "blender")
        return retry

    def loop_cancel(self, context) -> None:
        self._cancelled = True

    def loop_progress(self, context) -> tuple[str, None]:
        return context.window_manager.doppel_connection.message, None

    def loop_finish(self, context) -> set:
        self._client.close()
        conn = context.window_manager.doppel_connection
        if self._cancelled:
            conn.state, conn.message = "UNKNOWN", "stopped waiting for the server"
            self.report({"WARNING"}, conn.message)
            return {"CANCELLED"}
        _apply(conn, self._watch)
        if conn.state == "CONNECTED":
            self.report({"INFO"}, conn.message)
            return {"FINISHED"}
        if self._retry_until and not local_server.running():
            conn.message = (f"the local server stopped; see its log {local_server.log_path()}")
        self.report({"ERROR"}, conn.message)
        return {"CANCELLED"}


class DOPPEL_OT_connect(_HelloOperator, bpy.types.Operator):
    """Check that the Doppel server answers and show its version and device"""
    bl_idname = "doppel.connect"
    bl_label = "Connect"


class DOPPEL_OT_start_server(_HelloOperator, bpy.types.Operator):
    """Start a Doppel server on this computer (the command in the preferences) and connect"""
    bl_idname = "doppel.start_server"
    bl_label = "Start Local Server"

    @classmethod
    def poll(cls, context):
        return not local_server.running()

    def loop_start(self, context) -> bool:
        """Launch the server, then keep saying hello until it answers or START_TIMEOUT."""
        try:
            local_server.start(server_command(context), server_address(context))
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot start the server: {exc}")
            return False
        self._retry_until = time.monotonic() + START_TIMEOUT
        return self._hello(context)


class DOPPEL_OT_stop_server(bpy.types.Operator):
    """Stop the Doppel server this Blender started"""
    bl_idname = "doppel.stop_server"
    bl_label = "Stop Local Server"

    @classmethod
    def poll(cls, context):
        return local_server.running()

    def execute(self, context):
        local_server.stop()
        conn = context.window_manager.doppel_connection
        conn.state, conn.message = "UNKNOWN", "local server stopped"
        return {"FINISHED"}


CLASSES = (DOPPEL_OT_connect, DOPPEL_OT_start_server, DOPPEL_OT_stop_server)


def unregister_extra() -> None:
    local_server.stop()     # never leave a server running after the add-on is gone
