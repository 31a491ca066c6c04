"""RestBody (+ optional pose, camera, texture) -> protocol.RiggedAvatar, with the face parts
(eyes, lashes, brows, teeth, tongue) of body models that have them."""

from __future__ import annotations

from typing import Any

from protocol import Camera, MeshLayer, Pose, RiggedAvatar, Skeleton

from .bodies import RestBody
from .face_layers import DEFAULT_BROW, face_layers


def avatar_from_rest_body(rest: RestBody, name: str, metadata: dict[str, Any],
                          texture: bytes | None = None, pose: Pose | None = None,
                          camera: Camera | None = None, source_image: bytes | None = None,
                          role: str = "body", iris: str = "brown",
                          brow_color: tuple[float, float, float, float] = DEFAULT_BROW
                          ) -> RiggedAvatar:
    """iris: a key of textures.eyes.IRIS_COLORS; brow_color: linear RGBA of brows."""
    skeleton = Skeleton(names=list(rest.bone_names), parents=rest.parents, heads=rest.heads,
                        tails=rest.tails, matrices=rest.matrices)
    layer = MeshLayer(role=role, name=role, vertices=rest.vertices, faces=rest.faces,
                      skin_indices=rest.skin_indices, skin_weights=rest.skin_weights,
                      uvs=rest.uvs, texture=texture, shape_keys=rest.shape_keys)
    layers = [layer]
    if rest.face_rig is not None and role == "body":
        # computed from rest.vertices, so a reconstruction's per-vertex offsets carry them too
        layers += face_layers(rest.face_rig, rest.vertices, list(rest.bone_names),
                              rest.shape_keys, iris=iris, brow_color=brow_color)
    return RiggedAvatar(name=name, skeleton=skeleton, layers=layers, pose=pose, camera=camera,
                        source_image=source_image, metadata=metadata)
