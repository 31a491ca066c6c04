"""The `cluster` request (`doppel status`): which engine runs jobs, on which nodes.

A mixin of Server (router.py), like requests.py: runs on the socket thread and reads only
counters the engines keep, so it answers at once.
"""

from __future__ import annotations

import os
import socket

from protocol import Message

from .. import __version__


class ClusterRequests:
    """``_on_cluster``; needs the Server's pool, ray_address and device."""

    def _on_cluster(self, identity: bytes, msg: Message) -> Message:
        if self.ray_address is not None:
            engine, nodes = "ray", self.pool.nodes() if self.pool is not None else []
        else:
            pool = self.pool
            engine, nodes = "local", [{
                "address": socket.gethostname(), "cpus": float(os.cpu_count() or 1),
                "gpus": 1.0 if self.device.startswith("cuda") else 0.0,
                "running": pool.running if pool is not None else 0,
                "done": pool.done if pool is not None else 0}]
        return Message("cluster", {"server_version": __version__, "engine": engine,
                                   "nodes": nodes}, re=msg.id)
