"""The process-wide fitting rig of each body model. The rig itself comes from the body model
(``BodyModel.fit_rig()``; its interface is backend.bodies.protocol.FitRig): the pipeline,
body_fit.py and clothing.py use only that interface."""

from __future__ import annotations

import threading

from ..bodies import DEFAULT_BODY_MODEL, FitRig, get_body_model

_RIGS: dict[tuple, FitRig] = {}
_EDGES: dict[tuple, object] = {}
_LOCK = threading.Lock()


def fit_rig(body_model: str = DEFAULT_BODY_MODEL) -> tuple[FitRig, object]:
    """(rig, its mesh edges) for ``body_model``, built once per ``rig_key()`` (Anny's takes
    seconds; an SMPL rig is rebuilt when its model file changes). Raises JobInputError when
    the model is unknown or its files are absent."""
    from .clothing import mesh_edges
    body = get_body_model(body_model)      # the registry's clear error for absent files
    key = body.rig_key()
    with _LOCK:
        if key not in _RIGS:
            rig = body.fit_rig()
            _RIGS[key] = rig
            _EDGES[key] = mesh_edges(rig.mesh_faces)
        return _RIGS[key], _EDGES[key]
