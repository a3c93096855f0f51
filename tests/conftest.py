"""Shared fixtures: paths to ../shared/fixtures and tiny random generators."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

torch.set_num_threads(min(2, torch.get_num_threads()))


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"fixture {path} not found (CI checks out ../shared beside the project)")
    return path


@pytest.fixture(scope="session")
def sg2ada_path() -> Path:
    return fixture_path("sg2ada_64.pkl")


@pytest.fixture(scope="session")
def fixture_G(sg2ada_path):
    from stylegan2 import load_generator
    return load_generator(sg2ada_path)


def tiny_generator(seed: int = 0, **cfg):
    """A small random StyleGAN2 with every parameter and buffer randomised (noise strengths too)."""
    from stylegan2 import Generator, GeneratorConfig
    base = dict(z_dim=32, w_dim=32, img_resolution=32, channel_base=512, channel_max=32, mapping_layers=2)
    base.update(cfg)
    torch.manual_seed(seed)
    G = Generator(GeneratorConfig(**base))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.normal_(0, 0.3)
            elif name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
        G.mapping.w_avg.normal_()
    return G.eval().requires_grad_(False)


def pytest_collection_modifyitems(config, items):
    """GUI tests (marked `gui`) open a real window: skip them, saying why, when there is no display."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    skip = pytest.mark.skip(reason="no display: run the GUI tests under a virtual screen, "
                                   "`xvfb-run -a pytest -m gui`")
    for item in items:
        if "gui" in item.keywords:
            item.add_marker(skip)
