"""RestBody (+ optional pose, camera, texture) -> protocol.RiggedAvatar."""

from __future__ import annotations

from typing import Any

from protocol import Camera, MeshLayer, Pose, RiggedAvatar, Skeleton

from .bodies import RestBody


def avatar_from_rest_body(rest: RestBody, name: str, metadata: dict[str, Any],
                          texture: bytes | None = None, pose: Pose | None = None,
                          camera: Camera | None = None, source_image: bytes | None = None,
                          role: str = "body") -> RiggedAvatar:
    skeleton = Skeleton(names=list(rest.bone_names), parents=rest.parents, heads=rest.heads,
                        tails=rest.tails, matrices=rest.matrices)
    layer = MeshLayer(role=role, name=role, vertices=rest.vertices, faces=rest.faces,
                      skin_indices=rest.skin_indices, skin_weights=rest.skin_weights,
                      uvs=rest.uvs, texture=texture, shape_keys=rest.shape_keys)
    return RiggedAvatar(name=name, skeleton=skeleton, layers=[layer], pose=pose, camera=camera,
                        source_image=source_image, metadata=metadata)
