"""Doppel's server side: body models, jobs, the ZeroMQ server and the `doppel` CLI."""

__version__ = "0.1.0"
