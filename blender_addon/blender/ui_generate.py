"""Doppel tab > Generate: seed (with a dice), count, attribute dropdowns ("Any" lets the seed
choose), "Add"; and "Swap Layer": the active layer object's garment onto another avatar."""

from __future__ import annotations

import bpy

from .panels import DoppelPanel

ANY = "ANY"
# The generator's attribute values (backend/generate/attributes.py; a test keeps them equal).
CHOICES: dict[str, tuple[str, ...]] = {
    "gender": ("female", "male"),
    "age": ("adult", "child", "teen", "elderly", "any"),
    "pose": ("a", "t", "relaxed", "walk", "contrapposto"),
    "expression": ("neutral", "smile", "grin", "surprise", "sad", "angry", "wink"),
    "top": ("tshirt", "longsleeve", "tank", "jacket", "dress", "none"),
    "top_pattern": ("plain", "stripes", "checks"),
    "bottom": ("shorts", "trousers", "skirt", "none"),
    "bottom_pattern": ("plain", "denim", "checks"),
    "shoes": ("sneakers", "boots", "none"),
    "hair": ("short", "buzz", "bob", "long", "long_curly", "ponytail", "bun", "afro", "none"),
    "hair_color": ("black", "dark_brown", "brown", "auburn", "blonde", "grey"),
    "skin_tone": ("very_light", "light", "light_medium", "medium", "tan", "olive", "brown",
                  "dark_brown", "dark", "very_dark"),
}
COLOR_NAMES = ("black", "white", "grey", "charcoal", "navy", "blue", "light_blue", "teal",
               "green", "olive", "khaki", "beige", "brown", "tan", "red", "maroon", "pink",
               "purple", "orange", "yellow", "denim")
for _role in ("top", "bottom", "shoes"):
    CHOICES[f"{_role}_color"] = COLOR_NAMES


def _enum(name: str, values: tuple[str, ...]):
    items = [(ANY, "Any", "Let the seed choose")] + [
        (v, v.replace("_", " ").title(), "") for v in values]
    return bpy.props.EnumProperty(name=name.replace("_", " ").title(), items=items, default=ANY)


def _is_doppel_armature(self, obj) -> bool:
    return obj.type == "ARMATURE" and "doppel_file" in obj


class DoppelGenerateSettings(bpy.types.PropertyGroup):
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0,
                                description="Same seed and attributes give the same person")
    count: bpy.props.IntProperty(name="Count", default=1, min=1, max=64,
                                 description="How many people (seeds seed, seed+1, ...)")
    swap_target: bpy.props.PointerProperty(
        name="Onto", type=bpy.types.Object, poll=_is_doppel_armature,
        description="The generated avatar that receives the active layer")

    def attributes(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in CHOICES if getattr(self, k) != ANY}


# one dropdown per attribute, added before registration reads the annotations
DoppelGenerateSettings.__annotations__.update(
    {key: _enum(key, values) for key, values in CHOICES.items()})


class DOPPEL_PT_generate(DoppelPanel, bpy.types.Panel):
    bl_label = "Generate"
    bl_order = 40

    def draw(self, context):
        layout = self.layout
        s = context.scene.doppel_generate
        row = layout.row(align=True)
        row.prop(s, "seed")
        row.operator("doppel.roll_seed", text="", icon="FILE_REFRESH")
        layout.prop(s, "count")
        col = layout.column(align=True)
        for key in CHOICES:
            col.prop(s, key)
        layout.operator("doppel.generate", icon="COMMUNITY")
        box = layout.box()
        box.label(text="Swap Layer (active layer object)")
        box.prop(s, "swap_target")
        box.operator("doppel.swap_layer", icon="MOD_CLOTH")


CLASSES = (DoppelGenerateSettings, DOPPEL_PT_generate)

POINTERS = (("Scene", "doppel_generate", DoppelGenerateSettings),)
