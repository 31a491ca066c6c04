"""The Doppel ZeroMQ server: a ROUTER socket loop (router.py), a job table and worker threads
(jobs.py), finished results on disk (store.py)."""

from .address import check_bind_address, is_local_address
from .router import Server
from .store import ResultStore, default_results_dir

__all__ = ["Server", "ResultStore", "default_results_dir", "check_bind_address",
           "is_local_address"]
