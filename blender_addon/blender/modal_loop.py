"""The one modal job loop of the add-on's long operators (Add Body, Generate, Swap Layer,
Apply with Clip's Body, Reconstruct, Batch Import, Turntable, Connect, Start Local Server).

An operator mixes in :class:`ModalLoop` (a plain class: Blender refuses a registered operator
class as the base of another) and supplies only its steps::

    loop_start(context) -> bool     set up, send the first request; False once it reported why
    loop_step(context) -> bool      one short step (< 50 ms: network only via Client.poll(0));
                                    True while work is left
    loop_cancel(context)            stop the work (Esc, the script timeout, an error); no step
                                    follows, loop_finish does
    loop_finish(context) -> set     the work ended (done, failed or cancelled): free sockets,
                                    import, report; the operator's result
    loop_progress(context) -> (text, fraction or None)   shown in the header and status bar

The loop owns the rest. ``invoke()`` with a window runs modal: a timer every
``loop_interval`` seconds, progress in the status bar and the area's header, Esc cancels.
``execute()`` (scripts, background mode, tests) blocks until the work ends, cancelling after
``script_timeout`` seconds. Every hook runs under ``removed_on_error``: an exception is
reported, undoes what that hook added to bpy.data and cancels the work, so a failure never
leaves anything half-built in the scene. Example::

    class DOPPEL_OT_thing(ModalLoop, bpy.types.Operator):
        bl_idname = "doppel.thing"; loop_label = "thing"
        def loop_start(self, context): self._n = 0; return True
        def loop_step(self, context): self._n += 1; return self._n < 10
        def loop_finish(self, context): return {"FINISHED"}
"""

from __future__ import annotations

import time
import traceback

from .scene_guard import removed_on_error


class ModalLoop:
    loop_label = "job"             # "Doppel <label>: ..." in the header and error reports
    loop_interval = 0.1            # seconds between modal timer events
    script_timeout = 600.0         # seconds a blocking (script) run waits at most
    script_pause = 0.02            # seconds between blocking steps (lets the server work)

    # --- to override ------------------------------------------------------------------------

    def loop_start(self, context) -> bool:
        return True

    def loop_step(self, context) -> bool:
        raise NotImplementedError

    def loop_cancel(self, context) -> None:
        pass

    def loop_finish(self, context) -> set:
        return {"FINISHED"}

    def loop_progress(self, context) -> tuple[str, float | None]:
        return "", None

    # --- Blender's entry points -------------------------------------------------------------

    def execute(self, context):
        return self.run_blocking(context)

    def invoke(self, context, event):
        if context.window is None:          # no UI (background mode): run blocking
            return self.execute(context)
        return self.run_modal(context)

    def run_blocking(self, context) -> set:
        """Start, step until done (or script_timeout, which cancels), finish."""
        if not self._loop_begin(context):
            return {"CANCELLED"}
        deadline = time.monotonic() + self.script_timeout
        while self._loop_call(context, self.loop_step):
            if time.monotonic() > deadline:
                self._loop_call(context, self.loop_cancel, cancel_on_error=False)
                break
            if self.script_pause:
                time.sleep(self.script_pause)
        return self._loop_end(context)

    def run_modal(self, context) -> set:
        """Start, then let the timer drive ``modal``."""
        if not self._loop_begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._loop_timer = wm.event_timer_add(self.loop_interval, window=context.window)
        self._loop_bar = False
        wm.modal_handler_add(self)
        self._loop_call(context, self._loop_show)    # a failure here ends it on the next tick
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and not self._loop_stopped:
            self._loop_call(context, self.loop_cancel, cancel_on_error=False)
            self._loop_stopped = True
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._loop_stopped and self._loop_call(context, self.loop_step) \
                and self._loop_call(context, self._loop_show):
            return {"RUNNING_MODAL"}
        self._loop_hide(context)
        return self._loop_end(context)

    # --- machinery --------------------------------------------------------------------------

    def _loop_begin(self, context) -> bool:
        self._loop_failed = self._loop_stopped = False
        return bool(self._loop_call(context, self.loop_start, cancel_on_error=False))

    def _loop_end(self, context) -> set:
        result = self._loop_call(context, self.loop_finish, cancel_on_error=False)
        return {"CANCELLED"} if self._loop_failed or not result else result

    def _loop_call(self, context, hook, cancel_on_error: bool = True):
        """``hook(context)``; after an exception (reported, what the hook added to the scene
        removed, the work cancelled) None, and no step follows."""
        try:
            with removed_on_error():
                return hook(context)
        except Exception as exc:       # noqa: BLE001 - a bug must not leave a timer running
            traceback.print_exc()
            self._loop_failed = self._loop_stopped = True
            if cancel_on_error:
                try:
                    self.loop_cancel(context)
                except Exception:      # noqa: BLE001 - the first error is the one to report
                    traceback.print_exc()
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.report({"ERROR"}, f"Doppel {self.loop_label} failed: {message}")
            return None

    def _loop_show(self, context) -> bool:
        text, fraction = self.loop_progress(context)
        wm = context.window_manager
        if fraction is not None:
            if not self._loop_bar:
                wm.progress_begin(0.0, 1.0)
                self._loop_bar = True
            wm.progress_update(fraction)
        if context.area is not None:
            percent = "" if fraction is None else f" {fraction * 100:.0f}%"
            context.area.header_text_set(
                f"Doppel {self.loop_label}: {text}{percent}  (Esc to cancel)")
        _redraw(context)
        return True

    def _loop_hide(self, context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._loop_timer)
        if self._loop_bar:
            wm.progress_end()
        if context.area is not None:
            context.area.header_text_set(None)
        _redraw(context)


def _redraw(context) -> None:
    """Panels show per-photo rows and the job's stage: redraw them with each step."""
    for area in context.screen.areas if context.screen else ():
        area.tag_redraw()
