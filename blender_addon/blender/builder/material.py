"""Pass: a layer's texture (PNG/JPEG bytes, packed into the .blend) and base colour ->
a Principled BSDF material, with per-role finish for the face parts (wet eyes and teeth,
matte hair-like lashes and brows)."""

from __future__ import annotations

import bpy

# Principled roughness by layer role; others get DEFAULT_ROUGHNESS
ROUGHNESS = {"eyes": 0.08, "teeth": 0.25, "tongue": 0.35, "eyelashes": 0.8, "eyebrows": 0.85}
DEFAULT_ROUGHNESS = 0.6


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
    if layer.texture:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = image_from_bytes(layer.texture, f"{name}_texture")
        tex.location = (bsdf.location.x - 400, bsdf.location.y)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def image_from_bytes(data: bytes, name: str):
    """An image datablock holding encoded PNG/JPEG bytes, packed (no file on disk)."""
    img = bpy.data.images.new(name, 8, 8)
    img.pack(data=data, data_len=len(data))
    img.source = "FILE"
    return img
