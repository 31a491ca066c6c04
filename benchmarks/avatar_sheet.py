"""A small software renderer for previews and contact sheets (no Blender needed): an
orthographic front-three-quarter view, faces painted back to front with Pillow, each face
coloured from its texture at the face centre and shaded by a key light."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from protocol import RiggedAvatar


def _texture_array(layer) -> np.ndarray | None:
    if layer.texture is None:
        return None
    return np.asarray(Image.open(io.BytesIO(layer.texture)).convert("RGB"), dtype=np.float32)


def _face_colors(layer) -> np.ndarray:
    """(F, 3) sRGB 0..255 colour of each face."""
    tex = _texture_array(layer)
    if tex is None or layer.uvs is None:
        return np.broadcast_to(np.asarray(layer.base_color[:3]) * 255, (len(layer.faces), 3))
    uv = layer.uvs.mean(1) % 1.0
    h, w = tex.shape[:2]
    px = np.clip((uv[:, 0] * w).astype(int), 0, w - 1)
    py = np.clip(((1 - uv[:, 1]) * h).astype(int), 0, h - 1)
    return tex[py, px]


def render_avatar(avatar: RiggedAvatar, height_px: int = 420, yaw_deg: float = 25.0,
                  layers: list | None = None) -> Image.Image:
    """RGB image of the avatar as its layers' vertices stand, on a light background, seen
    from the front turned by ``yaw_deg``. One scale for everyone (1.95 m = height_px), so
    a crowd shows its real heights side by side."""
    yaw = np.radians(yaw_deg)
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    light = np.array([-0.4, -0.8, 0.5])
    light /= np.linalg.norm(light)
    scale = height_px / 1.95
    width = int(height_px * 0.55)
    polys, depths, cols = [], [], []
    for lay in layers or avatar.layers:
        if not len(lay.faces):
            continue
        v = lay.vertices @ rot.T
        tri = v[lay.faces[:, :3]]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        facing = n[:, 1] < 0.0                   # towards the viewer at -Y
        shade = 0.35 + 0.65 * np.clip(n @ light, 0, 1)
        col = _face_colors(lay) * shade[:, None]
        xy = np.stack([width / 2 + tri[..., 0] * scale,
                       height_px - 8 - tri[..., 2] * scale], -1)
        polys.append(xy[facing])
        depths.append(tri[facing, :, 1].mean(1))
        cols.append(col[facing])
    xy, depth, col = np.concatenate(polys), np.concatenate(depths), np.concatenate(cols)
    order = np.argsort(-depth, kind="stable")      # far (+Y) first
    img = Image.new("RGB", (width, height_px), (236, 238, 242))
    draw = ImageDraw.Draw(img)
    for i in order:
        c = tuple(int(x) for x in np.clip(col[i], 0, 255))
        draw.polygon([tuple(p) for p in xy[i]], fill=c)
    return img


def contact_sheet(images: list[Image.Image], columns: int = 6) -> Image.Image:
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (w * columns, h * rows), (236, 238, 242))
    for i, im in enumerate(images):
        sheet.paste(im, ((i % columns) * w, (i // columns) * h))
    return sheet
