"""Connect: ask the server hello (non-blocking in the UI) and show its version and device."""

from __future__ import annotations

import time

import bpy

from ..deps import protocol
from ..io.job_watch import HelloWatch, new_client
from .properties import reply_timeout, server_address


def _apply(conn, watch: HelloWatch) -> None:
    if watch.info is not None:
        conn.state = "CONNECTED"
        conn.server_version = str(watch.info.get("server_version", ""))
        conn.device = str(watch.info.get("device", ""))
        conn.message = f"Doppel {conn.server_version} on {conn.device}"
    else:
        conn.state, conn.message = "FAILED", watch.error.message


class DOPPEL_OT_connect(bpy.types.Operator):
    """Check that the Doppel server answers and show its version and device"""
    bl_idname = "doppel.connect"
    bl_label = "Connect"

    def _begin(self, context) -> bool:
        conn = context.window_manager.doppel_connection
        try:
            self._client = new_client(server_address(context), reply_timeout(context))
        except protocol.ProtocolError as exc:
            conn.state, conn.message = "FAILED", exc.message
            self.report({"ERROR"}, exc.message)
            return False
        conn.state, conn.message = "CONNECTING", f"connecting to {self._client.address}"
        self._watch = HelloWatch(self._client, reply_timeout(context), client_name="blender")
        return True

    def _end(self, context) -> set:
        self._client.close()
        conn = context.window_manager.doppel_connection
        _apply(conn, self._watch)
        if conn.state == "CONNECTED":
            self.report({"INFO"}, conn.message)
            return {"FINISHED"}
        self.report({"ERROR"}, conn.message)
        return {"CANCELLED"}

    def execute(self, context):
        if not self._begin(context):
            return {"CANCELLED"}
        while self._watch.step():
            time.sleep(0.02)
        return self._end(context)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self._watch.step():
            return {"RUNNING_MODAL"}
        context.window_manager.event_timer_remove(self._timer)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._end(context)


CLASSES = (DOPPEL_OT_connect,)
