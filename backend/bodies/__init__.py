"""Body models behind one small interface (see base.py). Anny is the default."""

from .base import BodyModel, BodyParams, JobInputError, RestBody, get_body_model, \
    available_body_models

__all__ = ["BodyModel", "BodyParams", "JobInputError", "RestBody", "get_body_model",
           "available_body_models"]
