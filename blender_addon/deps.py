"""Where the shared `protocol` package comes from: vendored inside the extension zip
(build_addon.py copies it to ``<addon>/protocol``), or the repository checkout."""

try:
    from . import protocol  # type: ignore[attr-defined]  # inside the installed extension
except ImportError:
    import protocol  # noqa: F401  # repository checkout / development

__all__ = ["protocol"]
