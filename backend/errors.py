"""Errors every job shares. Kept free of heavy imports (no torch, no body models) so the server
can recognise a job's errors without loading what the job loaded."""

from __future__ import annotations


class JobInputError(ValueError):
    """Bad user input to a job (parameters, photo...). The message is shown to the user;
    ``code`` is the protocol error code (protocol.constants.ErrorCode), "bad_params" unless
    the input itself (a file, a photo) is at fault."""

    def __init__(self, message: str, code: str = "bad_params"):
        super().__init__(message)
        self.code = code


class JobCancelled(Exception):
    """Raised inside a job when its client cancelled it."""
