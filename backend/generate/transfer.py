"""Move a garment layer from one avatar to another of the same body model: refit it through
its surface binding onto the target's body, push any point that landed inside the target's
skin back out, replace the target's layer of that role, and re-hide the skin under it."""

from __future__ import annotations

import copy

import numpy as np

from protocol import MeshLayer, RiggedAvatar

from ..bodies import get_body_model
from ..errors import JobInputError
from ..garments.layers import ROLE_ORDER, hide_covered_faces
from .face_keys import bound_shape_keys
from ..garments.surface import make_binding, push_outside, refit, triangle_frames, vertex_normals

TRANSFERABLE = ("top", "bottom", "outerwear", "shoes", "hair", "accessory", "other")


def _body_model_of(av: RiggedAvatar, which: str) -> str:
    name = av.metadata.get("body_model")
    if not isinstance(name, str):
        raise JobInputError(f"the {which} avatar {av.name!r} does not say which body model it "
                            f"was made with, so its layers cannot be refitted",
                            code="incompatible_avatars")
    return name


def transfer_layer(source: RiggedAvatar, role: str, target: RiggedAvatar) -> RiggedAvatar:
    """A copy of ``target`` wearing ``source``'s ``role`` layer (replacing its own)."""
    if role not in TRANSFERABLE:
        raise JobInputError(f"cannot transfer layer {role!r}; transferable roles: "
                            f"{', '.join(TRANSFERABLE)}", code="bad_params")
    src_model, dst_model = _body_model_of(source, "source"), _body_model_of(target, "target")
    src_body, dst_body = source.layer("body"), target.layer("body")
    if src_model != dst_model or src_body is None or dst_body is None or \
            len(src_body.vertices) != len(dst_body.vertices) or \
            source.skeleton.names != target.skeleton.names:
        raise JobInputError(f"cannot move a layer from a {src_model!r} avatar to a "
                            f"{dst_model!r} avatar: both must use the same body model, "
                            f"mesh topology and skeleton", code="incompatible_avatars")
    layer = source.layer(role)
    if layer is None:
        have = [lay.role for lay in source.layers if lay.role != "body"]
        raise JobInputError(f"avatar {source.name!r} has no {role!r} layer; it has: "
                            f"{', '.join(have) or 'none'}", code="bad_params")
    if layer.binding is None:
        raise JobInputError(f"the {role!r} layer of {source.name!r} is not bound to the body "
                            f"surface (only generated garments are), so it cannot be refitted",
                            code="bad_params")
    model = get_body_model(dst_model)
    faces = np.asarray(model.faces)
    body_v = dst_body.vertices
    normals = vertex_normals(body_v, faces)
    pts = refit(layer.binding, body_v)
    # keep at least most of the cloth's thickness where the target's shape squeezes it in
    thickness = np.clip(layer.binding.offsets[:, 2], 0.0, None)
    pts = push_outside(pts, body_v, normals, np.minimum(0.8 * thickness, 0.02))
    bd = layer.binding
    base = np.einsum("nk,nkd->nd", bd.barycentric.astype(np.float64), body_v[bd.triangles])
    offsets = np.einsum("nji,nj->ni", triangle_frames(body_v, bd.triangles), pts - base)
    moved = MeshLayer(role=layer.role, name=layer.name, vertices=pts, faces=layer.faces,
                      skin_indices=layer.skin_indices, skin_weights=layer.skin_weights,
                      uvs=layer.uvs, texture=layer.texture, base_color=layer.base_color,
                      binding=make_binding(bd.triangles, bd.barycentric, offsets, bd.hides),
                      material=layer.material)
    out = copy.deepcopy(target)
    out.layers = [lay for lay in out.layers if lay.role != role] + [moved]
    out.layers.sort(key=lambda lay: ROLE_ORDER.index(lay.role) if lay.role in ROLE_ORDER
                    else len(ROLE_ORDER))
    body = out.layer("body")
    moved.shape_keys = bound_shape_keys(moved, body)     # the target's face, not the source's
    full_uvs = getattr(model, "uvs", None)
    hide_covered_faces(body, faces, full_uvs, out.layers)
    moved_from = dict(out.metadata.get("transferred", {}))
    moved_from[role] = source.name
    out.metadata = {**out.metadata, "transferred": moved_from}
    return out
