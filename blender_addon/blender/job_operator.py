"""A base for operators that run one server job on the shared modal loop (modal_loop.py):
modal in the UI, blocking when called from a script.

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

from ..deps import protocol
from ..io.job_watch import JobWatch
from .modal_loop import ModalLoop
from .properties import connect, reply_timeout
from .scene_guard import removed_on_error


class JobOperator(ModalLoop):
    job_kind: str = ""

    @property
    def loop_label(self) -> str:
        return self.job_kind

    # --- to override ------------------------------------------------------------------------

    def job_params(self, context) -> dict:
        return {}

    def job_inputs(self, context) -> dict:
        return {}

    def on_result(self, context, avatar) -> set:
        raise NotImplementedError

    # --- the loop's steps -------------------------------------------------------------------

    def loop_start(self, context) -> bool:
        try:
            self._client = connect(context)
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return False
        self._watch = JobWatch(self._client, self.job_kind, self.job_params(context),
                               self.job_inputs(context), reply_timeout=reply_timeout(context))
        return True

    def loop_step(self, context) -> bool:
        return self._watch.step()

    def loop_cancel(self, context) -> None:
        self._watch.cancel()

    def loop_progress(self, context) -> tuple[str, float]:
        conn = context.window_manager.doppel_connection     # the Server panel shows it too
        conn.job_stage, conn.job_fraction = self._watch.stage, self._watch.fraction
        return self._watch.stage, self._watch.fraction

    def loop_finish(self, context) -> set:
        watch = self._watch
        self._client.close()
        conn = context.window_manager.doppel_connection
        conn.job_stage, conn.job_fraction = "", 0.0
        if watch.state == "done":
            try:
                with removed_on_error():    # a refused import leaves nothing behind either
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
