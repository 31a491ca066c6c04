"""The node setups behind a layer's material hint (protocol MeshLayer.material): MPFB2's
layered skin, matte fabrics with a procedural weave, alpha-clipped hair cards.

Every setup keeps the layer's image texture wired straight into the Principled BSDF's Base
Color (and, for cards, its alpha through a Math "Round" into Alpha): that is what the FBX and
glTF exporters read, so exports carry the plain baked texture (glTF: alphaMode MASK) while
the extra nodes only shape Blender's own renders.
"""

from __future__ import annotations

# roughness, specular IOR level, sheen, bump pattern, bump strength per fabric. Cloth is
# matte: rough, little specular, a soft sheen at grazing angles (fibres) instead of a shine.
FABRICS = {
    "cotton": (0.88, 0.2, 0.35, "weave", 0.12),
    "denim": (0.84, 0.2, 0.2, "twill", 0.2),
    "knit": (0.93, 0.15, 0.5, "knit", 0.25),
    "leather": (0.62, 0.3, 0.0, "grain", 0.08),
}
# MPFB2 enhanced_skin.json (CC0): subsurface strength, radius (R, G, B) x scale, pores,
# a thin coat; roughness varies over the face and body rather than one plastic value
SKIN = {"subsurface": 0.2, "radius": (1.0, 0.2, 0.1), "scale": 0.01, "coat": 0.1,
        "coat_roughness": 0.3, "roughness": (0.38, 0.58), "pore_scale": 2500.0,
        "pore_strength": 0.2}
HAIR_ROUGHNESS = 0.6
CARD_CLIP = 0.5


def _node(nodes, kind: str, x: float, y: float):
    n = nodes.new(kind)
    n.location = (x, y)
    return n


def _uv(nodes, links, x, y):
    coords = _node(nodes, "ShaderNodeTexCoord", x, y)
    return coords.outputs["UV"]


def _bump(nodes, links, bsdf, height, strength: float, x=-300, y=-400):
    bump = _node(nodes, "ShaderNodeBump", x, y)
    bump.inputs["Strength"].default_value = strength
    bump.inputs["Distance"].default_value = 0.001
    links.new(height, bump.inputs["Height"])
    links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return bump


def _pattern(nodes, links, kind: str):
    """A height output of the fabric's weave over box UVs (1 UV unit = 25 cm of cloth)."""
    uv = _uv(nodes, links, -1100, -400)
    if kind == "grain":
        noise = _node(nodes, "ShaderNodeTexNoise", -800, -400)
        noise.inputs["Scale"].default_value = 400.0
        noise.inputs["Detail"].default_value = 4.0
        links.new(uv, noise.inputs["Vector"])
        return noise.outputs["Fac"]
    a = _node(nodes, "ShaderNodeTexWave", -800, -300)
    a.wave_type = "BANDS"
    a.bands_direction = "DIAGONAL" if kind == "twill" else "X"
    a.inputs["Scale"].default_value = 150.0 if kind == "twill" else 110.0
    links.new(uv, a.inputs["Vector"])
    if kind == "twill":
        return a.outputs["Fac"]
    b = _node(nodes, "ShaderNodeTexWave", -800, -550)
    b.wave_type = "BANDS"
    b.bands_direction = "Y"
    b.wave_profile = "SAW" if kind == "knit" else "SIN"
    b.inputs["Scale"].default_value = 80.0 if kind == "knit" else 110.0
    links.new(uv, b.inputs["Vector"])
    mul = _node(nodes, "ShaderNodeMath", -550, -400)
    mul.operation = "MULTIPLY"
    links.new(a.outputs["Fac"], mul.inputs[0])
    links.new(b.outputs["Fac"], mul.inputs[1])
    return mul.outputs["Value"]


def fabric(nodes, links, bsdf, name: str) -> None:
    rough, spec, sheen, pattern, strength = FABRICS[name]
    bsdf.inputs["Roughness"].default_value = rough
    bsdf.inputs["Specular IOR Level"].default_value = spec
    bsdf.inputs["Sheen Weight"].default_value = sheen
    bsdf.inputs["Sheen Roughness"].default_value = 0.6
    _bump(nodes, links, bsdf, _pattern(nodes, links, pattern), strength)


def skin(nodes, links, bsdf) -> None:
    s = SKIN
    bsdf.inputs["Subsurface Weight"].default_value = s["subsurface"]
    bsdf.inputs["Subsurface Radius"].default_value = s["radius"]
    bsdf.inputs["Subsurface Scale"].default_value = s["scale"]
    bsdf.inputs["Coat Weight"].default_value = s["coat"]
    bsdf.inputs["Coat Roughness"].default_value = s["coat_roughness"]
    uv = _uv(nodes, links, -1100, -200)
    # roughness variation: broad patches (oilier T-zone, drier cheeks and limbs)
    patches = _node(nodes, "ShaderNodeTexNoise", -800, -150)
    patches.inputs["Scale"].default_value = 12.0
    links.new(uv, patches.inputs["Vector"])
    rough = _node(nodes, "ShaderNodeMapRange", -550, -150)
    rough.inputs["To Min"].default_value, rough.inputs["To Max"].default_value = s["roughness"]
    links.new(patches.outputs["Fac"], rough.inputs["Value"])
    links.new(rough.outputs["Result"], bsdf.inputs["Roughness"])
    # pores: MPFB2's noise -> ramp -> bump
    pores = _node(nodes, "ShaderNodeTexNoise", -800, -450)
    pores.inputs["Scale"].default_value = s["pore_scale"]
    pores.inputs["Detail"].default_value = 2.0
    pores.inputs["Distortion"].default_value = 1.0
    links.new(uv, pores.inputs["Vector"])
    ramp = _node(nodes, "ShaderNodeValToRGB", -550, -450)
    ramp.color_ramp.elements[0].position = 0.2
    ramp.color_ramp.elements[1].position = 0.5
    links.new(pores.outputs["Fac"], ramp.inputs["Fac"])
    _bump(nodes, links, bsdf, ramp.outputs["Color"], s["pore_strength"], y=-500)


def hair_cards(mat, nodes, links, bsdf, tex) -> None:
    bsdf.inputs["Roughness"].default_value = HAIR_ROUGHNESS
    bsdf.inputs["Specular IOR Level"].default_value = 0.2
    if tex is not None:
        clip = _node(nodes, "ShaderNodeMath", bsdf.location.x - 200, bsdf.location.y - 300)
        clip.operation = "ROUND"                     # glTF: alphaMode MASK, cutoff 0.5
        links.new(tex.outputs["Alpha"], clip.inputs[0])
        links.new(clip.outputs["Value"], bsdf.inputs["Alpha"])
    mat.surface_render_method = "DITHERED"
    mat.blend_method = "CLIP"                        # Workbench and older viewports
    mat.alpha_threshold = CARD_CLIP
    mat.use_backface_culling = False                 # a card shows from both sides
    mat.use_transparent_shadow = True
