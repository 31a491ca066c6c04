"""Makes the pictures of README.md's "For artists" section from headless renders (bpy 5.0.1):

    .venv/bin/python docs/make_readme_images.py [face reconstruct crowd motion]

reconstruct.png  ryota.png | the avatar over the photo through its photo camera | side view
crowd.png        twelve generated people (Cycles): ages, poses, expressions, hair cards,
                 matte cloth with hems
motion.png       the Anny body walking (CMU walk.bvh) at four moments
turntable.png    four turntable frames of the reconstructed avatar (studio backdrop)
face.png         a generated face from the front and the side, and with jawOpen at 1
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "docs" / "images"

from backend.jobs import JobContext, get_job  # noqa: E402
from blender_addon.blender.builder import build_avatar  # noqa: E402
from blender_addon.blender.framing import framing_camera, look_at  # noqa: E402
from blender_addon.blender.motion_writer import apply_motion_file  # noqa: E402
from blender_addon.blender.studio import add_studio, set_world  # noqa: E402
from blender_addon.blender.turntable import setup_turntable  # noqa: E402


def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "TEXTURE"
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    set_world(scene)                          # light grey: Workbench renders it behind
    return scene


def render(scene, size: tuple[int, int], transparent: bool = False) -> Image.Image:
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.film_transparent = transparent
    scene.render.image_settings.color_mode = "RGBA" if transparent else "RGB"
    path = Path(tempfile.mkdtemp()) / "frame.png"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return Image.open(path).convert("RGBA" if transparent else "RGB")


def strip(images: list[Image.Image], height: int = 360) -> Image.Image:
    scaled = [im.convert("RGB").resize((round(im.width * height / im.height), height))
              for im in images]
    sheet = Image.new("RGB", (sum(i.width for i in scaled), height), "white")
    x = 0
    for im in scaled:
        sheet.paste(im, (x, 0))
        x += im.width
    return sheet


def meshes(built) -> list:
    return list(built.meshes.values())


def reconstruct_images(ctx) -> None:
    photo_path = DATA / "photos" / "single" / "ryota.png"
    photo_bytes = np.frombuffer(photo_path.read_bytes(), dtype=np.uint8)
    avatar = get_job("reconstruct")({"name": "ryota"}, {"photo": photo_bytes}, ctx)
    scene = fresh_scene()
    built = build_avatar(avatar, bpy.context, posed=True, with_camera=True)
    photo = Image.open(photo_path).convert("RGBA")
    overlay = render(scene, photo.size, transparent=True)
    over = photo.copy()
    over.alpha_composite(Image.blend(Image.new("RGBA", photo.size), overlay, 0.85))
    add_studio(scene, meshes(built), lights=False)
    cam, _, _ = framing_camera(scene, meshes(built), azimuth=math.radians(60))
    scene.camera = cam
    side = render(scene, (384, 512))
    strip([photo, over, side]).save(OUT / "reconstruct.png", optimize=True)

    table = setup_turntable(bpy.context, meshes(built), Path(tempfile.mkdtemp()), frames=4,
                            engine="WORKBENCH", resolution=320)
    frames = [Image.open(table.render_frame(i)) for i in range(4)]
    strip(frames, height=280).save(OUT / "turntable.png", optimize=True)


# what the crowd shows (the seed picks the rest): a spread of ages, hair, poses and faces
CROWD = [
    {"gender": "male", "age": "elderly", "hair": "short",
     "pose": "relaxed", "expression": "smile"},
    {"gender": "female", "age": "adult", "hair": "long",
     "pose": "contrapposto", "expression": "neutral"},
    {"gender": "female", "age": "teen", "hair": "afro", "pose": "walk", "expression": "grin"},
    {"gender": "female", "age": "adult", "hair": "bob",
     "pose": "relaxed", "expression": "surprise"},
    {"gender": "male", "age": "adult", "hair": "buzz", "pose": "a", "expression": "smile"},
    {"gender": "female", "age": "elderly", "hair": "bun", "pose": "relaxed", "expression": "sad"},
    {"gender": "female", "age": "child", "hair": "ponytail", "pose": "walk", "expression": "grin"},
    {"gender": "female", "age": "adult", "hair": "long_curly",
     "pose": "relaxed", "expression": "smile"},
    {"gender": "male", "age": "child", "hair": "short",
     "pose": "contrapposto", "expression": "surprise"},
    {"gender": "female", "age": "adult", "hair": "ponytail",
     "pose": "relaxed", "expression": "wink"},
    {"gender": "male", "age": "teen", "hair": "long", "pose": "a", "expression": "neutral"},
    {"gender": "male", "age": "adult", "hair": "short", "pose": "walk", "expression": "angry"},
]


def crowd_image(ctx) -> None:
    """Twelve people in two staggered rows in the studio, Cycles at a few samples."""
    scene = fresh_scene()
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 24
    scene.cycles.use_denoising = True
    built_all = []
    for i, attrs in enumerate(CROWD):
        avatar = get_job("generate")({"seed": 100 + i, "name": f"Doppel_{100 + i}",
                                      "attributes": attrs}, {}, ctx)
        built = build_avatar(avatar, bpy.context)
        back = i % 2
        built.armature.location = ((i // 2) * 1.0 + 0.5 * back, 1.1 * back, 0.0)
        built_all.append(built)
    bpy.context.view_layer.update()
    add_studio(scene, [m for b in built_all for m in meshes(b)], lights=True)
    cam, _, _ = framing_camera(scene, [m for b in built_all for m in meshes(b)],
                               azimuth=math.radians(-8), elevation=math.radians(8))
    scene.camera = cam
    render(scene, (1400, 600)).save(OUT / "crowd.png", optimize=True)


def motion_image(ctx) -> None:
    scene = fresh_scene()
    avatar = get_job("body")({"name": "Walker"}, {}, ctx)
    built = build_avatar(avatar, bpy.context)
    apply_motion_file(built.armature, str(DATA / "motions" / "bvh" / "walk.bvh"), scene,
                      in_place=True)
    shots = []
    scene.frame_set(20)
    cam, _, _ = framing_camera(scene, meshes(built), azimuth=math.radians(90))
    scene.camera = cam
    for frame in (1, 10, 20, 30):
        scene.frame_set(frame)
        shots.append(render(scene, (300, 420)))
    strip(shots, height=320).save(OUT / "motion.png", optimize=True)


def face_image(ctx) -> None:
    """Front, side and jawOpen close-ups: eyes in their sockets, brows above, teeth inside."""
    from mathutils import Vector
    scene = fresh_scene()
    avatar = get_job("generate")({"seed": 3, "name": "Face"}, {}, ctx)
    built = build_avatar(avatar, bpy.context)
    sk = avatar.skeleton
    eye = sk.heads[sk.names.index("eye.L")]
    centre = Vector((0.0, float(eye[1]), float(eye[2]) - 0.03))
    data = bpy.data.cameras.new("Face")
    data.lens = 85.0
    cam = bpy.data.objects.new("Face", data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    shots = []
    for offset, jaw in (((0, -0.5, 0.02), 0.0), ((0.5, -0.14, 0.02), 0.0),
                        ((0.16, -0.48, 0.02), 1.0)):
        for obj in meshes(built):
            keys = obj.data.shape_keys
            if keys is not None and "jawOpen" in keys.key_blocks:
                keys.key_blocks["jawOpen"].value = jaw
        cam.matrix_world = look_at(centre + Vector(offset), centre)
        shots.append(render(scene, (240, 240)))
    strip(shots, height=240).save(OUT / "face.png", optimize=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    ctx = JobContext("readme")
    makers = {"face": face_image, "reconstruct": reconstruct_images, "crowd": crowd_image,
              "motion": motion_image}
    for name in sys.argv[1:] or makers:
        makers[name](ctx)
    for p in sorted(OUT.glob("*.png")):
        print(p, f"{p.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
