"""Jobs on a Ray cluster (`doppel serve --ray ADDR`): the drop-in twin of ProcessPool.

Each alive node runs long-lived JobActors (ray_actor.py) pinned to it: one per GPU on a GPU
node (``num_gpus=1``), else ``workers`` CPU actors. One slot thread per actor takes jobs from
a shared queue (jobs that can use a GPU go to GPU actors first; other jobs prefer CPU
actors), streams the actor's events to the server, relays cancellation and the time limit,
and saves results into the server's own result store: nodes never touch the store, and
clients never see Ray. A job whose actor or node is lost is retried once on another actor,
then fails with a message. A watcher thread starts actors on nodes that join and replaces
lost ones.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from protocol import ErrorCode, ProtocolError, avatar_from_message, decode, validate_reply

from .job_process import Task
from .jobs import WorkItem
from .ray_cluster import NodeInfo, alive_nodes, connect, lost_node_errors
from .store import ResultStore

log = logging.getLogger("doppel.server")

GPU_KINDS = frozenset({"reconstruct", "preview"})   # torch fitting / rendering gain from a GPU
POLL_INTERVAL = 0.05    # seconds between checks of cancel / time limit while a job runs
CANCEL_GRACE = 1.0      # seconds a job gets to honour a cancel before its actor is killed
NODE_CHECK = 1.0        # seconds between looks at the cluster's nodes
FAILED_NODE_PAUSE = 30.0   # seconds before retrying a node whose actor could not start

Emit = Callable[[tuple], None]


class NodeLost(Exception):
    """The cluster reports the actor's node dead while a job's stream was still open."""


@dataclass
class _Slot:
    actor: Any
    node: NodeInfo
    gpu: bool
    pid: int | None = None       # set once the actor has loaded its models
    busy: bool = False
    dead: bool = False

    @property
    def idle(self) -> bool:
        return self.pid is not None and not self.busy and not self.dead


@dataclass
class _NodeCount:
    running: int = 0
    done: int = 0


@dataclass
class _Queue:
    """FIFO of WorkItems; a slot takes the first one it should run."""

    items: deque = field(default_factory=deque)
    cond: threading.Condition = field(default_factory=threading.Condition)


class RayEngine:
    """``emit`` receives the events of events.py; ``store`` gets every finished avatar."""

    def __init__(self, address: str, emit: Emit, store: ResultStore, workers: int = 1,
                 preload: tuple[str, ...] = (), time_limit: float | None = None):
        self.ray = connect(address)
        self.address = address
        self._emit, self.store = emit, store
        self.workers = max(1, int(workers))
        self.time_limit = time_limit
        self._init_args = (list(sys.path), tuple(preload),
                           logging.getLogger().getEffectiveLevel())
        from .ray_actor import JobActor
        self._actor_cls = self.ray.remote(JobActor)
        self._lost = (*lost_node_errors(), NodeLost)
        self._lock = threading.Lock()     # guards slots, nodes, counts, retried
        self._slots: list[_Slot] = []
        self._nodes: dict[str, NodeInfo] = {}
        self._counts: dict[str, _NodeCount] = {}
        self._paused: dict[str, float] = {}
        self._retried: dict[str, str] = {}    # job id -> node it was lost on
        self._queue = _Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reconcile()
        if not self._slots:
            log.warning("the Ray cluster at %s has no node with a free CPU yet; jobs wait "
                        "until one joins (`ray start --address %s`)", address, address)
        self._watcher = threading.Thread(target=self._watch, name="doppel-ray-nodes",
                                         daemon=True)
        self._watcher.start()

    # --- the server's side ----------------------------------------------------------------------

    def submit(self, item: WorkItem) -> None:
        with self._queue.cond:
            self._queue.items.append(item)
            self._queue.cond.notify_all()

    def pids(self) -> list[int]:
        with self._lock:
            return [s.pid for s in self._slots if s.pid is not None and not s.dead]

    def nodes(self) -> list[dict[str, Any]]:
        """The `cluster` reply's node records."""
        with self._lock:
            return [{"address": n.address, "node_id": n.node_id[:12], "cpus": n.cpus,
                     "gpus": n.gpus, "running": self._counts[i].running,
                     "done": self._counts[i].done,
                     "actors": sum(s.node.node_id == i and s.pid is not None and not s.dead
                                   for s in self._slots)}
                    for i, n in self._nodes.items()]

    def stop(self, timeout: float = 5.0) -> None:
        """Running jobs were asked to cancel by the server; give them ``timeout`` seconds,
        then kill every actor and leave the cluster (which keeps running)."""
        self._stop.set()
        with self._queue.cond:
            self._queue.cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            slots, self._slots = self._slots, []
        for slot in slots:
            self._kill(slot)
        self.ray.shutdown()

    # --- nodes and actors ----------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(NODE_CHECK):
            try:
                self._reconcile()
            except Exception:   # noqa: BLE001 - a GCS hiccup must not end the watcher
                log.exception("could not read the Ray cluster's nodes")

    def _reconcile(self) -> None:
        nodes = {n.node_id: n for n in alive_nodes()}
        now = time.monotonic()
        with self._lock:
            for node_id in set(self._nodes) - set(nodes):
                log.warning("Ray node %s (%s) left the cluster", self._nodes[node_id].address,
                            node_id[:12])
            self._nodes = nodes
            for node_id in nodes:
                self._counts.setdefault(node_id, _NodeCount())
            for slot in self._slots:
                if slot.node.node_id not in nodes:
                    slot.dead = True    # its slot thread sees the lost actor and retries
            self._slots = [s for s in self._slots if not s.dead]
            for node in nodes.values():
                if self._paused.get(node.node_id, 0.0) > now or self._stop.is_set():
                    continue
                want, gpu = node.actor_slots(self.workers)
                have = sum(s.node.node_id == node.node_id for s in self._slots)
                for _ in range(want - have):
                    self._start_slot(node, gpu)

    def _start_slot(self, node: NodeInfo, gpu: bool) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        actor = self._actor_cls.options(
            num_cpus=1, num_gpus=1 if gpu else 0, max_restarts=0, max_concurrency=2,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        ).remote(*self._init_args)
        slot = _Slot(actor, node, gpu)
        self._slots.append(slot)
        thread = threading.Thread(target=self._run_slot, args=(slot,), daemon=True,
                                  name=f"doppel-ray-{node.node_id[:8]}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _drop(self, slot: _Slot) -> None:
        with self._lock:
            slot.dead = True
            if slot in self._slots:
                self._slots.remove(slot)
        self._kill(slot)

    def _kill(self, slot: _Slot) -> None:
        try:
            self.ray.kill(slot.actor, no_restart=True)
        except Exception:   # noqa: BLE001 - already gone with its node
            pass

    # --- one thread per actor ------------------------------------------------------------------

    def _run_slot(self, slot: _Slot) -> None:
        where = f"{slot.node.address} ({slot.node.node_id[:12]})"
        ref = slot.actor.ready.remote()
        while not self._stop.is_set() and not slot.dead:
            try:
                ready, _ = self.ray.wait([ref], timeout=0.5)
                if ready:
                    slot.pid = self.ray.get(ready[0])
                    break
            except Exception as exc:   # noqa: BLE001 - the actor could not start there
                log.error("a Doppel actor could not start on Ray node %s: %s. Is doppel "
                          "installed there, with the server's Ray and Python versions? "
                          "Trying that node again in %.0f s", where, exc, FAILED_NODE_PAUSE)
                with self._lock:
                    self._paused[slot.node.node_id] = time.monotonic() + FAILED_NODE_PAUSE
                self._drop(slot)
                return
        else:
            return
        log.info("Doppel actor (pid %s) ready on Ray node %s%s", slot.pid, where,
                 " with a GPU" if slot.gpu else "")
        while not self._stop.is_set() and not slot.dead:
            item = self._take(slot)
            if item is None or item.cancel_event.is_set():
                continue    # cancelled while queued: the socket thread already told the client
            slot.busy = True
            try:
                keep = self._follow(slot, item)
            finally:
                slot.busy = False
            if not keep:
                self._drop(slot)     # the watcher starts a fresh actor on that node
                return

    def _take(self, slot: _Slot) -> WorkItem | None:
        with self._queue.cond:
            if not self._queue.items:
                self._queue.cond.wait(0.5)
            with self._lock:
                any_gpu = any(s.gpu and not s.dead for s in self._slots)
                cpu_idle = any(not s.gpu and s.idle for s in self._slots)
                # a retried job goes to another node than the one that lost it
                items = [i for i in self._queue.items
                         if self._retried.get(i.job_id) != slot.node.node_id]
            if slot.gpu:    # GPU work first, then other work no idle CPU actor takes
                pick = next((i for i in items if i.job_kind in GPU_KINDS), None)
                if pick is None and items and not cpu_idle:
                    pick = items[0]
            else:           # GPU work only when the cluster has no GPU actor
                pick = next((i for i in items if not any_gpu or i.job_kind not in GPU_KINDS),
                            None)
            if pick is not None:
                self._queue.items.remove(pick)
            return pick

    def _follow(self, slot: _Slot, item: WorkItem) -> bool:
        """Run ``item`` on ``slot``'s actor until it ends; False when the actor must go."""
        task = Task(item.job_id, item.job_kind, item.fn_spec, item.submit_id, dict(item.params),
                    dict(item.inputs), None)
        with self._lock:
            counts = self._counts.setdefault(slot.node.node_id, _NodeCount())
            counts.running += 1
        start, cancelled_at, requeued = time.monotonic(), None, False
        try:
            gen = slot.actor.run.options(num_returns="streaming").remote(task)
            while True:
                ready, _ = self.ray.wait([gen], timeout=POLL_INTERVAL)
                if ready:
                    try:
                        event = self.ray.get(next(gen))
                    except StopIteration:
                        raise RuntimeError("the actor ended the job without a result") from None
                    if event[0] == "done":
                        self._done(item, event[2], counts)
                        return True
                    self._emit(event[:4])
                    if event[0] == "failed":
                        return event[4:] != ("retire",)
                    continue
                if slot.dead:    # the stream of a dead node's actor may never end by itself
                    raise NodeLost(f"the cluster reports node {slot.node.address} dead")
                now = time.monotonic()
                if item.cancel_event.is_set() and cancelled_at is None:
                    slot.actor.cancel.remote(item.job_id)   # stops at its next progress report
                    cancelled_at = now
                if cancelled_at is not None and now - cancelled_at > CANCEL_GRACE:
                    log.warning("job %s ignored its cancel for %.0f s; killing its Ray actor",
                                item.job_id, CANCEL_GRACE)
                    self._fail(item, ErrorCode.CANCELLED, f"job {item.job_id} "
                               f"({item.job_kind}) was cancelled (its Ray actor was stopped)")
                    return False
                if cancelled_at is None and self.time_limit is not None \
                        and now - start > self.time_limit:
                    self._fail(item, ErrorCode.JOB_FAILED, f"job {item.job_kind} exceeded the "
                               f"server's time limit of {self.time_limit:g} s and was stopped; "
                               f"try smaller inputs, or raise --job-time-limit")
                    return False
        except self._lost as exc:
            requeued = self._lost_actor(slot, item, exc)
            return False
        except Exception as exc:   # noqa: BLE001 - a Ray or actor bug fails one job
            log.exception("job %s (%s) failed in Ray", item.job_id, item.job_kind)
            self._fail(item, ErrorCode.JOB_FAILED, f"job {item.job_kind} failed on Ray node "
                       f"{slot.node.address}: {type(exc).__name__}: {str(exc)[:300]}")
            return False
        finally:
            with self._lock:
                counts.running -= 1
                if not requeued:
                    self._retried.pop(item.job_id, None)

    def _done(self, item: WorkItem, frames: list, counts: _NodeCount) -> None:
        # Results come home: the server's store stays the one place clients fetch from.
        try:
            avatar = avatar_from_message(validate_reply(decode(frames)))
            self.store.save(item.job_id, item.job_kind, avatar)
        except (ProtocolError, OSError) as exc:
            self._fail(item, ErrorCode.JOB_FAILED, f"the result of job {item.job_kind} could "
                       f"not be stored ({exc}); see the server log")
            return
        with self._lock:
            counts.done += 1
        self._emit(("done", item.job_id, frames))

    def _lost_actor(self, slot: _Slot, item: WorkItem, exc: BaseException) -> bool:
        """Requeue a job whose actor was lost (True), or fail it if that happened before."""
        where = f"Ray node {slot.node.address} ({slot.node.node_id[:12]})"
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else \
            type(exc).__name__
        if item.cancel_event.is_set() or self._stop.is_set():
            self._fail(item, ErrorCode.CANCELLED, f"job {item.job_id} was cancelled")
            return False
        with self._lock:
            again = item.job_id in self._retried
            self._retried[item.job_id] = slot.node.node_id
        if again:
            self._fail(item, ErrorCode.JOB_FAILED, f"job {item.job_kind} lost its Ray actor "
                       f"twice (last on {where}: {reason}); check the cluster with `ray "
                       f"status` and submit the job again")
            return False
        log.warning("job %s (%s) lost its actor on %s (%s); retrying it on another actor",
                    item.job_id, item.job_kind, where, reason)
        self._emit(("progress", item.job_id, "retrying on another node", 0.0))
        with self._queue.cond:
            self._queue.items.appendleft(item)
            self._queue.cond.notify_all()
        return True

    def _fail(self, item: WorkItem, code: str, message: str) -> None:
        self._emit(("failed", item.job_id, code, message))
