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


# --- Contact-sheet views of a posed, dressed avatar in its photo's camera -----------------

BACKGROUND = (236, 238, 242)


class CameraScene:
    """Every worn layer of a posed avatar (face parts left out) in the photo's OpenCV camera
    frame, with per-triangle UVs and each layer's texture or base colour."""

    def __init__(self, avatar: RiggedAvatar):
        from backend.fit.posing import camera_space_mesh
        self.avatar = avatar
        self.vertices, self.tri, self.owner = camera_space_mesh(avatar)
        self.uvs = np.zeros((len(self.tri), 3, 2))
        self.textures, self.colors = {}, {}
        for i in np.unique(self.owner):
            lay = avatar.layers[i]
            rows = self.owner == i
            self.colors[i] = np.asarray(lay.base_color[:3], np.float64) * 255
            tex = _texture_array(lay) if lay.uvs is not None else None
            if tex is not None:
                uv = lay.uvs if lay.uvs.shape[1] == 3 else np.concatenate(
                    [lay.uvs[:, [0, 1, 2]], lay.uvs[:, [0, 2, 3]]])   # posed_layers' quad split
                self.uvs[rows] = uv
                self.textures[i] = tex

    def shade(self, ras, view_dir: np.ndarray, verts: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 image of a Raster of this scene: texture (or base colour) times a
        head-light term; layers whose winding points inwards shade the same."""
        img = np.zeros(ras.face.shape + (3,), np.float64)
        img[:] = BACKGROUND
        hit = ras.face >= 0
        f = ras.face[hit]
        t = verts[self.tri[f]]
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        light = 0.45 + 0.55 * np.abs(n @ view_dir)
        col = np.zeros((len(f), 3))
        owner = self.owner[f]
        for i in np.unique(owner):
            sel = owner == i
            if i not in self.textures:
                col[sel] = self.colors[i]
                continue
            tex = self.textures[i]
            th, tw = tex.shape[:2]
            uv = np.einsum("nk,nkd->nd", ras.bary[hit][sel], self.uvs[f[sel]]) % 1.0
            col[sel] = tex[np.clip(((1 - uv[:, 1]) * th).astype(int), 0, th - 1),
                           np.clip((uv[:, 0] * tw).astype(int), 0, tw - 1)]
        img[hit] = col * light[:, None]
        return np.clip(img, 0, 255).astype(np.uint8)

    def through_camera(self, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The avatar through its own camera at ``scale`` x the photo's resolution:
        (H, W, 3) render and (H, W) coverage."""
        from backend.raster import rasterize
        cam = self.avatar.camera
        v = self.vertices
        z = np.maximum(v[:, 2], 1e-6)
        pix = np.stack([cam.fx * v[:, 0] / z + cam.cx, cam.fy * v[:, 1] / z + cam.cy], 1) * scale
        w, h = round(cam.width * scale), round(cam.height * scale)
        ras = rasterize(pix, self.tri, w, h, depth=z)
        return self.shade(ras, np.array([0.0, 0.0, 1.0]), v), ras.face >= 0

    def turned(self, deg: float, height_px: int, width_px: int) -> np.ndarray:
        """The avatar turned by ``deg`` about world up (through its centroid), seen along the
        camera's axis orthographically, fitted into height_px x width_px."""
        import cv2

        from backend.raster import rasterize
        up = self.up_in_camera()
        centre = self.vertices.mean(0)
        rot = cv2.Rodrigues(up * np.radians(deg))[0]
        v = (self.vertices - centre) @ rot.T
        span = max(np.ptp(v[:, 1]) / height_px, np.ptp(v[:, 0]) / width_px) * 1.06
        pix = np.stack([(v[:, 0] - 0.5 * (v[:, 0].max() + v[:, 0].min())) / span + width_px / 2,
                        (v[:, 1] - 0.5 * (v[:, 1].max() + v[:, 1].min())) / span + height_px / 2],
                       1)
        ras = rasterize(pix, self.tri, width_px, height_px, depth=v[:, 2])
        return self.shade(ras, np.array([0.0, 0.0, 1.0]), v)

    def up_in_camera(self) -> np.ndarray:
        """World up (+Z, Blender) in the OpenCV camera frame."""
        from backend.fit.posing import camera_from_world
        up = camera_from_world(self.avatar)[:3, :3] @ np.array([0.0, 0.0, 1.0])
        return up / np.linalg.norm(up)


def overlay(photo: np.ndarray, render: np.ndarray, hit: np.ndarray,
            true_mask: np.ndarray | None = None) -> np.ndarray:
    """The render blended over the photo, its outline in yellow; where a true mask is known,
    its outline in red."""
    import cv2
    out = photo.astype(np.float64)
    out[hit] = 0.35 * out[hit] + 0.65 * render[hit]
    out = np.clip(out, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(hit.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 220, 0), 1)
    if true_mask is not None:
        contours, _ = cv2.findContours(true_mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (230, 30, 30), 1)
    return out


def sheet_row(avatar: RiggedAvatar, photo: Image.Image, true_mask: np.ndarray | None = None,
              height_px: int = 384, label: str = "") -> Image.Image:
    """photo | overlay (the dressed avatar through the photo's camera) | side | back: the
    avatar turned 90 and 180 degrees about world up, every layer with its texture."""
    scene = CameraScene(avatar)
    cam = avatar.camera
    scale = height_px / cam.height
    render, hit = scene.through_camera(scale)
    h, w = hit.shape
    rgb = np.asarray(photo.convert("RGB").resize((w, h), Image.BILINEAR))
    small = None
    if true_mask is not None:
        small = np.asarray(Image.fromarray(true_mask.astype(np.uint8) * 255).resize(
            (w, h), Image.NEAREST)) > 127
    side_w = max(int(height_px * 0.5), 1)
    panels = [rgb, overlay(rgb, render, hit, small), scene.turned(90.0, height_px, side_w),
              scene.turned(180.0, height_px, side_w)]
    row = Image.fromarray(np.concatenate(panels, axis=1))
    if label:
        ImageDraw.Draw(row).text((4, 4), label, fill=(255, 255, 255), stroke_width=2,
                                 stroke_fill=(0, 0, 0))
    return row


def stack_rows(rows: list[Image.Image]) -> Image.Image:
    """Rows one under another, left-aligned on the background colour."""
    w = max(r.width for r in rows)
    sheet = Image.new("RGB", (w, sum(r.height for r in rows)), BACKGROUND)
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    return sheet
