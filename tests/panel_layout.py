"""Drawing add-on panels without a window, for tests running real bpy headless.

UILayout only exists while Blender draws a region, so ``draw_panel`` hands a panel's draw()
a recording stand-in that also checks what the panel asks for: properties that exist on the
data and operators that are registered.
"""

from __future__ import annotations


class RecordingLayout:
    """Stands in for UILayout; ``props`` and ``operators`` list what draw() used, in order."""

    enabled = True

    def __init__(self):
        self.props, self.operators, self.icons = [], [], []

    def row(self, **_):
        return self

    column = row

    def label(self, **_):
        return None

    def progress(self, **_):
        return None

    def prop(self, data, name, **_):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name}"
        self.props.append(name)

    def icon(self, data):
        """UILayout.icon: a custom icon id for an ID datablock (here: the datablock itself)."""
        import bpy
        assert isinstance(data, bpy.types.ID), f"icon() needs a datablock, got {data!r}"
        return data

    def template_icon(self, icon_value, **_):
        self.icons.append(icon_value)

    def operator(self, idname, **_):
        import bpy
        category, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, category), name), f"no operator {idname}"
        self.operators.append(idname)
        return type("OpProps", (), {})()


def draw_panel(panel_cls, context) -> RecordingLayout:
    """Run ``panel_cls.draw`` against a RecordingLayout and return the layout."""
    fake = type("PanelSelf", (), {"layout": RecordingLayout()})()
    panel_cls.draw(fake, context)
    return fake.layout
