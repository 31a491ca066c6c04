"""The add-on's one modal job loop (blender/modal_loop.py), driven the way Blender drives it:
timer and key events into modal(), a stand-in window manager recording timers, progress and
header text; real bpy for what a failing step leaves in bpy.data."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from blender_addon.blender.modal_loop import ModalLoop  # noqa: E402

pytestmark = pytest.mark.blender


class FakeWindowManager:
    def __init__(self):
        self.timers, self.handlers, self.progress, self.bar_open = [], [], [], False

    def event_timer_add(self, interval, window=None):
        self.timers.append(interval)
        return interval

    def event_timer_remove(self, timer):
        self.timers.remove(timer)

    def modal_handler_add(self, op):
        self.handlers.append(op)

    def progress_begin(self, lo, hi):
        self.bar_open = True

    def progress_update(self, value):
        self.progress.append(value)

    def progress_end(self):
        self.bar_open = False


class FakeArea:
    def __init__(self):
        self.header, self.redraws = None, 0

    def header_text_set(self, text):
        self.header = text

    def tag_redraw(self):
        self.redraws += 1


def ui_context():
    area = FakeArea()
    return SimpleNamespace(window=object(), window_manager=FakeWindowManager(), area=area,
                           screen=SimpleNamespace(areas=[area]))


TIMER, ESC, MOUSE = (SimpleNamespace(type=t) for t in ("TIMER", "ESC", "MOUSEMOVE"))


class Counter(ModalLoop):
    """Counts to ``steps``; optionally builds an object and then fails on step ``fail_at``."""
    loop_label = "count"
    script_pause = 0.0

    def __init__(self, steps=3, fail_at=None):
        self.steps, self.fail_at, self.reports, self.calls = steps, fail_at, [], []

    def report(self, kind, text):
        self.reports.append((next(iter(kind)), text))

    def loop_start(self, context):
        self.n, self.cancelled = 0, False
        return True

    def loop_step(self, context):
        self.n += 1
        if self.n == self.fail_at:
            bpy.data.objects.new("half built", bpy.data.meshes.new("half built"))
            raise RuntimeError("the step broke")
        return self.n < self.steps

    def loop_cancel(self, context):
        self.calls.append("cancel")
        self.cancelled = True

    def loop_progress(self, context):
        return f"{self.n}/{self.steps}", self.n / self.steps

    def loop_finish(self, context):
        self.calls.append("finish")
        return {"CANCELLED"} if self.cancelled else {"FINISHED"}


def drive(op, context, events):
    results = []
    for event in events:
        result = op.modal(context, event)
        results.append(result)
        if result != {"RUNNING_MODAL"} and result != {"PASS_THROUGH"}:
            break
    return results


def test_modal_run_steps_on_the_timer_shows_progress_and_cleans_up():
    context, op = ui_context(), Counter(steps=3)
    wm = context.window_manager
    assert op.invoke(context, None) == {"RUNNING_MODAL"}
    assert wm.timers == [op.loop_interval] and wm.handlers == [op]
    assert "Doppel count: 0/3 0%" in context.area.header and "Esc" in context.area.header
    assert op.modal(context, MOUSE) == {"PASS_THROUGH"}          # the UI stays usable
    results = drive(op, context, [TIMER] * 5)
    assert results == [{"RUNNING_MODAL"}, {"RUNNING_MODAL"}, {"FINISHED"}]
    assert wm.progress == pytest.approx([0.0, 1 / 3, 2 / 3]) and not wm.bar_open
    assert wm.timers == [] and context.area.header is None and context.area.redraws
    assert op.calls == ["finish"]


def test_esc_cancels_then_finishes_without_another_step():
    context, op = ui_context(), Counter(steps=10)
    op.invoke(context, None)
    drive(op, context, [TIMER, TIMER])
    assert op.modal(context, ESC) == {"CANCELLED"}
    assert op.n == 2 and op.calls == ["cancel", "finish"]
    assert context.window_manager.timers == [] and not context.window_manager.bar_open


def test_a_failing_step_leaves_nothing_half_built_and_no_timer():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    before = (set(bpy.data.objects), set(bpy.data.meshes))
    context, op = ui_context(), Counter(steps=10, fail_at=2)
    op.invoke(context, None)
    results = drive(op, context, [TIMER] * 3)
    assert results[-1] == {"CANCELLED"}
    assert (set(bpy.data.objects), set(bpy.data.meshes)) == before
    assert op.calls == ["cancel", "finish"]           # the work is stopped, sockets freed
    assert ("ERROR", "Doppel count failed: the step broke") in op.reports
    assert context.window_manager.timers == [] and context.area.header is None


def test_background_invoke_and_execute_block_until_done():
    background = SimpleNamespace(window=None, window_manager=FakeWindowManager(), area=None,
                                 screen=None)
    op = Counter(steps=4)
    assert op.invoke(background, None) == {"FINISHED"} and op.n == 4
    assert background.window_manager.timers == []
    assert Counter(steps=2).execute(background) == {"FINISHED"}


def test_blocking_run_cancels_at_the_script_timeout():
    op = Counter(steps=10**9)
    op.script_timeout, op.script_pause = 0.05, 0.01
    start = time.monotonic()
    assert op.execute(SimpleNamespace(window=None)) == {"CANCELLED"}
    assert time.monotonic() - start < 2.0 and op.calls == ["cancel", "finish"]


def test_a_refused_start_runs_nothing():
    class Refused(Counter):
        def loop_start(self, context):
            self.report({"ERROR"}, "no server")
            return False
    context, op = ui_context(), Refused()
    assert op.invoke(context, None) == {"CANCELLED"}
    assert context.window_manager.timers == [] and op.calls == []
