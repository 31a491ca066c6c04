"""Pass: a layer's texture (PNG/JPEG bytes, packed into the .blend) and base colour ->
a Principled BSDF material, with per-role finish for the face parts (wet eyes and teeth,
matte hair-like lashes and brows) and the node setup of the layer's material hint (skin,
fabrics, hair cards: shaders.py)."""

from __future__ import annotations

import bpy

from . import shaders

# Principled roughness by layer role; others get DEFAULT_ROUGHNESS
ROUGHNESS = {"eyes": 0.08, "teeth": 0.25, "tongue": 0.35, "eyelashes": 0.8, "eyebrows": 0.85}
DEFAULT_ROUGHNESS = 0.6
# files without a material hint (older producers, reconstructions): by role
ROLE_MATERIAL = {"body": "skin", "top": "cotton", "bottom": "cotton", "outerwear": "cotton",
                 "shoes": "leather"}


def material_kind(layer) -> str | None:
    """The shader setup for ``layer``: its hint when this add-on knows it, else by role."""
    hint = getattr(layer, "material", None)
    if hint == "skin" or hint == "hair_cards" or hint in shaders.FABRICS:
        return hint
    return ROLE_MATERIAL.get(layer.role)


def build_material(layer, name: str):
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:        # Blender < 5.0 creates materials without nodes
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        out = next(n for n in nodes if n.type == "OUTPUT_MATERIAL")
        links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    bsdf.inputs["Base Color"].default_value = tuple(layer.base_color)
    bsdf.inputs["Roughness"].default_value = ROUGHNESS.get(layer.role, DEFAULT_ROUGHNESS)
    mat.diffuse_color = tuple(layer.base_color)   # what Workbench shows
    tex = None
    if layer.texture:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = image_from_bytes(layer.texture, f"{name}_texture")
        tex.location = (bsdf.location.x - 400, bsdf.location.y)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    kind = material_kind(layer)
    if kind == "skin":
        shaders.skin(nodes, links, bsdf)
    elif kind == "hair_cards":
        shaders.hair_cards(mat, nodes, links, bsdf, tex)
    elif kind in shaders.FABRICS:
        shaders.fabric(nodes, links, bsdf, kind)
    return mat


def image_from_bytes(data: bytes, name: str):
    """An image datablock holding encoded PNG/JPEG bytes, packed (no file on disk)."""
    img = bpy.data.images.new(name, 8, 8)
    img.pack(data=data, data_len=len(data))
    img.source = "FILE"
    return img
