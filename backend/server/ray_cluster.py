"""Joining a Ray cluster and reading its nodes, for the Ray engine (ray_engine.py).

Ray is imported here and only here, lazily: a server without ``--ray`` never needs it.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("doppel.server")

REACH_TIMEOUT = 5.0    # seconds; ray.init itself retries an absent GCS for minutes


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    address: str
    cpus: float
    gpus: float

    def actor_slots(self, workers: int) -> tuple[int, bool]:
        """(actors to run on this node, whether they hold a GPU): one per GPU on a GPU
        node, else ``workers`` CPU actors; never more than the node has CPUs."""
        cpus = int(self.cpus)
        if self.gpus >= 1:
            return min(int(self.gpus), cpus), True
        return min(workers, cpus), False


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise OSError("`doppel serve --ray` needs Ray on this machine: pip install "
                      "'doppel[cluster]' (Ray 2.60.0, the same version on every node)") from None
    return ray


def connect(address: str) -> Any:
    """ray.init against an existing cluster; OSError naming ``address`` when it fails."""
    ray = import_ray()
    advice = ("start the cluster with `ray start --head` on its head machine and pass the "
              "address it printed (HOST:6379), or `--ray auto` on a machine of the cluster")
    if address.startswith("ray://"):
        raise OSError(f"--ray {address}: Ray Client addresses are not supported; run the "
                      f"server on a machine of the cluster and pass the GCS address HOST:PORT")
    if address != "auto":
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), REACH_TIMEOUT).close()
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot reach the Ray cluster at {address} ({exc}): {advice}") \
                from None
    try:
        ray.init(address=address, namespace="doppel", configure_logging=False)
    except Exception as exc:   # noqa: BLE001 - ConnectionError, RuntimeError, version mismatch
        raise OSError(f"cannot join the Ray cluster at {address} ({exc}): {advice}") from None
    log.info("joined the Ray cluster at %s (%d nodes alive)", address, len(alive_nodes()))
    return ray


def alive_nodes() -> list[NodeInfo]:
    import ray
    out = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        res = n.get("Resources") or {}
        out.append(NodeInfo(n["NodeID"], str(n.get("NodeManagerAddress", "?")),
                            float(res.get("CPU", 0)), float(res.get("GPU", 0))))
    return out


def lost_node_errors() -> tuple[type, ...]:
    """Exceptions that mean the actor or its node went away (not that the job failed)."""
    from ray import exceptions as rx
    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError",
             "ObjectLostError", "OwnerDiedError", "WorkerCrashedError", "LocalRayletDiedError")
    return tuple(getattr(rx, n) for n in names if hasattr(rx, n))
