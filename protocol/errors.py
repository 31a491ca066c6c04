"""The one exception type of the protocol: a stable code plus a sentence a user can act on."""

from __future__ import annotations


class ProtocolError(Exception):
    """A message or file that cannot be used.

    ``code`` is one of :class:`protocol.constants.ErrorCode`; ``message`` is for people.
    """

    def __init__(self, code: str, message: str, job_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.job_id = job_id

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"
