"""Pass: a layer's texture (PNG/JPEG bytes, packed into the .blend) and base colour ->
a Principled BSDF material."""

from __future__ import annotations

import bpy


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
    bsdf.inputs["Roughness"].default_value = 0.6
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
