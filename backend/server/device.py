"""What the server computes on, for the `hello` reply."""

from __future__ import annotations


def describe_device() -> str:
    """"cuda:0 (NVIDIA H100 ...)" when torch sees a GPU, else "cpu"."""
    import torch
    if torch.cuda.is_available():
        return f"cuda:0 ({torch.cuda.get_device_name(0)})"
    return "cpu"
