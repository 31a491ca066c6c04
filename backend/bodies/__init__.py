"""Body models behind one interface (protocol.py), looked up by name in one registry
(registry.py). Anny is the default; the SMPL family is offered when the user's files are."""

from .base import ScalarParamsBody
from .protocol import BodyModel, BodyParams, FitRig, RestBody, RestState
from .registry import (DEFAULT_BODY_MODEL, BodyEntry, available_body_models, body_entry,
                       get_body_model, register_body_model, registered_body_models,
                       unavailable_reason)

__all__ = ["BodyModel", "BodyParams", "FitRig", "RestBody", "RestState", "DEFAULT_BODY_MODEL",
           "BodyEntry", "available_body_models", "body_entry", "get_body_model",
           "register_body_model", "registered_body_models", "unavailable_reason",
           "ScalarParamsBody"]
