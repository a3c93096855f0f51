"""CUDA-only checks (skipped without a GPU; `scripts/gpu_check.sh` runs them where one is lent).

The engine on CUDA must track like the CPU reference, and the weights the ops derive once (transposed
copies, sums of squares) must follow the generator to the GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from draggan.checkpoints import DEFAULT_CHECKPOINT as DEMO
from draggan.engine import DragConfig, DragSession

from conftest import tiny_generator

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_derived_weights_follow_the_generator_to_the_gpu():
    G = tiny_generator(img_resolution=64)
    ws = G.mapping(torch.randn(1, G.z_dim))
    cpu = G.synthesis(ws)  # fills the CPU copies of the derived weights
    G.cuda()
    gpu = G.synthesis(ws.cuda()).cpu()
    assert torch.allclose(gpu, cpu, atol=1e-4 * cpu.abs().max())


def test_a_drag_on_cuda_tracks_like_the_cpu():
    """30 steps on the demo model, full float32 (TF32 off): handles within 0.5 px of the CPU's at every step."""
    from stylegan2 import load_generator
    G = load_generator(DEMO)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        runs = {}
        for device in ("cpu", "cuda"):
            G = G.to(device)
            session = DragSession.from_seed(G, 3, 0.7, DragConfig(max_steps=30, stop_distance=1e-3))
            session.set_points([[32, 32]], [[44, 40]])
            session.run()
            runs[device] = np.array(session.trajectory)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    assert runs["cpu"].shape == runs["cuda"].shape
    assert np.abs(runs["cpu"] - runs["cuda"]).max() <= 0.5


def test_an_fp16_drag_tracks_within_half_a_pixel_of_float32():
    """The reduced-precision path (fp16 in the top blocks, CUDA only): handles within 0.5 px of float32's
    at every one of 100 steps, windowed and whole-map steps alike (the drag of the demo model, fp16 in b32
    and b64)."""
    from stylegan2 import load_generator
    G = load_generator(DEMO).cuda()
    G.synthesis.fp16_resolutions = {32, 64}
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        runs = {}
        for fp16 in (False, True):
            G.synthesis.use_fp16 = fp16
            session = DragSession.from_seed(G, 3, 0.7, DragConfig(max_steps=100, stop_distance=1e-3))
            session.set_points([[32, 44]], [[32, 50]])
            session.run(render_every=4)
            runs[fp16] = np.array(session.trajectory)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
        G.synthesis.use_fp16 = False
    assert runs[False].shape == runs[True].shape
    assert np.abs(runs[False] - runs[True]).max() <= 0.5
