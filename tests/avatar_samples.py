"""Small synthetic avatars for protocol and server tests (real avatars come from the body job)."""

from __future__ import annotations

import numpy as np

from protocol import Camera, MeshLayer, Pose, RiggedAvatar, Skeleton


def chain_skeleton(bones: int = 3) -> Skeleton:
    """A vertical chain of ``bones`` bones, 0.1 m each, along +Z (Blender armature space)."""
    heads = np.zeros((bones, 3), np.float32)
    heads[:, 2] = np.arange(bones, dtype=np.float32) * 0.1
    tails = heads + np.array([0, 0, 0.1], np.float32)
    # Bone +Y along armature +Z: rotate +90 degrees about X.
    rest = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], np.float32)
    matrices = np.repeat(rest[None], bones, axis=0)
    matrices[:, :3, 3] = heads
    return Skeleton(names=[f"bone{i}" for i in range(bones)],
                    parents=np.arange(-1, bones - 1, dtype=np.int32),
                    heads=heads, tails=tails, matrices=matrices)


def tiny_avatar(name: str = "Tiny", bones: int = 3, seed: int = 0, extras: bool = True,
                metadata: dict | None = None) -> RiggedAvatar:
    """A two-layer avatar over a bone chain; with ``extras`` also pose, camera and images."""
    rng = np.random.default_rng(seed)
    sk = chain_skeleton(bones)
    layers = []
    for role, face_size in (("body", 3), ("top", 4)):
        v = 8
        faces = rng.integers(0, v, size=(5, face_size)).astype(np.int32)
        idx = rng.integers(0, bones, size=(v, 2)).astype(np.int32)
        w = rng.random((v, 2)).astype(np.float32) + 0.1
        layers.append(MeshLayer(
            role=role, name=f"{role}_mesh", vertices=rng.normal(size=(v, 3)).astype(np.float32),
            faces=faces, skin_indices=idx, skin_weights=w / w.sum(1, keepdims=True),
            uvs=rng.random((5, face_size, 2)).astype(np.float32),
            texture=rng.bytes(64) if extras else None, base_color=(0.5, 0.4, 0.3, 1.0)))
    av = RiggedAvatar(name=name, skeleton=sk, layers=layers,
                      metadata=metadata if metadata is not None else
                      {"body_model": "test", "params": {"height": 0.5}, "producer": "tests"})
    if extras:
        q = rng.normal(size=(bones, 4)).astype(np.float32)
        av.pose = Pose(rotations=q / np.linalg.norm(q, axis=1, keepdims=True),
                       location=np.array([0.0, 0.1, 0.9], np.float32))
        av.camera = Camera(fx=500.0, fy=510.0, cx=320.0, cy=240.0, width=640, height=480,
                           world_from_camera=np.eye(4, dtype=np.float32))
        av.source_image = rng.bytes(100)
    return av


def assert_avatars_equal(a: RiggedAvatar, b: RiggedAvatar) -> None:
    """Exact equality, array by array (dtype included), bytes by bytes."""
    assert a.name == b.name and a.metadata == b.metadata and a.source_image == b.source_image
    for f in ("names",):
        assert getattr(a.skeleton, f) == getattr(b.skeleton, f)
    for f in ("parents", "heads", "tails", "matrices"):
        x, y = getattr(a.skeleton, f), getattr(b.skeleton, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        assert (la.role, la.name, tuple(la.base_color), la.texture) == \
            (lb.role, lb.name, tuple(lb.base_color), lb.texture)
        for f in ("vertices", "faces", "skin_indices", "skin_weights", "uvs"):
            x, y = getattr(la, f), getattr(lb, f)
            assert (x is None) == (y is None), f
            if x is not None:
                assert x.dtype == y.dtype and np.array_equal(x, y), f
    assert (a.pose is None) == (b.pose is None)
    if a.pose is not None:
        assert np.array_equal(a.pose.rotations, b.pose.rotations)
        assert np.array_equal(a.pose.location, b.pose.location)
    assert (a.camera is None) == (b.camera is None)
    if a.camera is not None:
        ca, cb = a.camera, b.camera
        assert (ca.fx, ca.fy, ca.cx, ca.cy, ca.width, ca.height) == \
            (cb.fx, cb.fy, cb.cx, cb.cy, cb.width, cb.height)
        assert np.array_equal(ca.world_from_camera, cb.world_from_camera)
