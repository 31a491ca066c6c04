"""A base for operators that run one server job: modal in the UI (timer-driven, progress in
the status bar and header, ESC cancels), blocking when called from a script.

Subclass with ``bpy.types.Operator`` and define ``job_kind``, ``job_params(context)``, optionally
``job_inputs(context)``, and ``on_result(context, avatar) -> set`` (import it). Example::

    class DOPPEL_OT_add_body(JobOperator, bpy.types.Operator):
        bl_idname = "doppel.add_body"; job_kind = "body"
        def job_params(self, context): ...
        def on_result(self, context, avatar): build_avatar(avatar, context); return {"FINISHED"}

Network calls are only ``Client.send`` / ``Client.poll(0)`` (see io.job_watch), so a dead
server cannot freeze Blender: a step of the modal loop returns in well under 50 ms.
"""

from __future__ import annotations

import time

from ..deps import protocol
from ..io.job_watch import JobWatch
from .properties import connect, reply_timeout

POLL_INTERVAL = 0.1       # seconds between modal timer events


class JobOperator:
    job_kind: str = ""
    script_timeout: float = 600.0      # seconds a blocking (script) call waits at most

    # --- to override ------------------------------------------------------------------------

    def job_params(self, context) -> dict:
        return {}

    def job_inputs(self, context) -> dict:
        return {}

    def on_result(self, context, avatar) -> set:
        raise NotImplementedError

    # --- shared machinery -------------------------------------------------------------------

    def _start(self, context) -> bool:
        try:
            self._client = connect(context)
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return False
        self._watch = JobWatch(self._client, self.job_kind, self.job_params(context),
                               self.job_inputs(context), reply_timeout=reply_timeout(context))
        return True

    def _finish(self, context) -> set:
        watch = self._watch
        self._client.close()
        conn = context.window_manager.doppel_connection
        conn.job_stage, conn.job_fraction = "", 0.0
        if watch.state == "done":
            try:
                return self.on_result(context, watch.avatar)
            except protocol.ProtocolError as exc:
                self.report({"ERROR"}, exc.message)
                return {"CANCELLED"}
            except (RuntimeError, ValueError) as exc:     # Blender refused to build it
                self.report({"ERROR"}, f"could not import the {self.job_kind} result: {exc}")
                return {"CANCELLED"}
        if watch.state == "cancelled":
            self.report({"WARNING"}, f"{self.job_kind} job cancelled")
        else:
            err = watch.error
            if err is not None and err.code == protocol.ErrorCode.UNREACHABLE:
                conn.state, conn.message = "FAILED", err.message
            self.report({"ERROR"}, err.message if err else f"{self.job_kind} job failed")
        return {"CANCELLED"}

    def execute(self, context):
        """Blocking run (scripts, background mode): waits for the result."""
        if not self._start(context):
            return {"CANCELLED"}
        deadline = time.monotonic() + self.script_timeout
        while self._watch.step():
            if time.monotonic() > deadline:
                self._watch.cancel()
                break
            time.sleep(0.02)
        return self._finish(context)

    def invoke(self, context, event):
        if context.window is None:          # no UI (background mode): run blocking
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_INTERVAL, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._watch.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        active = self._watch.step()
        wm, conn = context.window_manager, context.window_manager.doppel_connection
        conn.job_stage, conn.job_fraction = self._watch.stage, self._watch.fraction
        wm.progress_update(int(self._watch.fraction * 100))
        if context.area is not None:
            context.area.header_text_set(
                f"Doppel {self.job_kind}: {self._watch.stage} "
                f"{self._watch.fraction * 100:.0f}%  (Esc to cancel)")
        if active:
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.area is not None:
            context.area.header_text_set(None)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._finish(context)
