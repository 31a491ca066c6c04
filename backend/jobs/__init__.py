"""Job kinds the server and the CLI run. Each maps (params, inputs, context) -> RiggedAvatar."""

from __future__ import annotations

import importlib

from .base import JobCancelled, JobContext, JobFn

# job kind -> "module:function"; imported on first use so the server starts fast.
JOB_KINDS: dict[str, str] = {
    "body": "backend.jobs.body:run",
    "reconstruct": "backend.jobs.reconstruct:run",
    "generate": "backend.jobs.generate:run",
    "transfer": "backend.jobs.transfer:run",
    "preview": "backend.jobs.preview:run",
}


def job_kinds() -> list[str]:
    return sorted(JOB_KINDS)


def get_job(kind: str) -> JobFn:
    from ..errors import JobInputError
    if kind not in JOB_KINDS:
        raise JobInputError(f"unknown job kind {kind!r}; this server runs: "
                            f"{', '.join(job_kinds())}", code="unknown_job_kind")
    module, func = JOB_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), func)


__all__ = ["JobCancelled", "JobContext", "JobFn", "JOB_KINDS", "job_kinds", "get_job"]
