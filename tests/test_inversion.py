"""GAN inversion: the W / W+ / PTI stages, the losses (MS-SSIM, random VGG, D features) and `draggan invert`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from draggan.engine import DragSession, Inversion, InversionConfig, seed_to_ws
from draggan.engine.inversion import noise_penalty, renormalise
from draggan.engine.perceptual import ImageLoss, RandomVGG, ms_ssim, msssim_scales, parse_loss, vgg_distance
from draggan.errors import DragGANError
from draggan.images import to_uint8
from stylegan2 import load_generator

from conftest import fixture_path, tiny_generator

DEMO = Path(__file__).resolve().parents[1] / "checkpoints" / "demo_faces_64.safetensors"
FAST = dict(w_avg_samples=500, preview_every=0)  # statistics from fewer samples: test speed only


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One thread: on a shared 2-core machine two threads per process make each step ~20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo_G():
    return load_generator(DEMO, "cpu")


@pytest.fixture(scope="module")
def face():
    """A family render: a picture the demo generator never produced (it only approximates the family)."""
    from draggan.demo.faces import render, sample_params
    return render(sample_params(np.random.default_rng(3)), 64)[0]


def state(G) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in G.state_dict().items()}


# ---- configuration ----

@pytest.mark.parametrize("changes, match", [
    (dict(w_steps=-1), "w_steps"), (dict(w_steps=0, wplus_steps=0, pti_steps=0), "no steps"),
    (dict(loss="lpips"), "unknown loss term"), (dict(loss="l1+l1"), "twice"), (dict(loss="-1*l1"), "unknown"),
    (dict(w_lr=float("nan")), "w_lr"), (dict(pti_lr=0.0), "pti_lr"), (dict(lr_rampdown=2.0), "lr_rampdown"),
    (dict(optimize_noise=1), "true or false"), (dict(label="dog"), "label"), (dict(seed=2 ** 40), "seed"),
])
def test_config_refuses_bad_values(changes, match):
    with pytest.raises(DragGANError, match=match):
        InversionConfig(**changes)


def test_config_with_and_loss_specs():
    cfg = InversionConfig().with_(wplus_steps=5, loss="L2 + 0.5*vgg")
    assert cfg.wplus_steps == 5 and cfg.stages() == [("w", 1000), ("w+", 5)]
    assert parse_loss(cfg.loss) == [(1.0, "l2"), (0.5, "vgg")]


def test_target_must_match_the_model_size():
    G = tiny_generator()
    with pytest.raises(DragGANError, match=r"uint8 \[32, 32, 3\]"):
        Inversion(G, np.zeros((64, 64, 3), np.uint8), InversionConfig(w_steps=1, **FAST))
    with pytest.raises(DragGANError, match="uint8"):
        Inversion(G, np.zeros((32, 32, 3), np.float32), InversionConfig(w_steps=1, **FAST))


# ---- the stages ----

def test_w_projection_recovers_a_generated_image(demo_G):
    target = to_uint8(demo_G.synthesis(seed_to_ws(demo_G, 11, 0.7)))
    r = Inversion(demo_G, target, InversionConfig(w_steps=120, **FAST)).run()
    losses = r.stages["w"]["losses"]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert r.psnr > 27 and r.msssim > 0.93, (r.psnr, r.msssim)
    assert r.G is demo_G and r.ws.shape == (1, demo_G.num_ws, demo_G.w_dim)
    assert torch.equal(r.ws[:, 0], r.ws[:, -1])  # W: one w for every layer


def test_each_stage_improves_and_pti_leaves_g_untouched(demo_G, face):
    before = state(demo_G)
    inv = Inversion(demo_G, face, InversionConfig(w_steps=60, wplus_steps=60, pti_steps=40, pti_stop_psnr=0, **FAST))
    results = {}
    while not inv.done:
        p = inv.step()
        if p.step == p.stage_steps:  # a stage's last step: its result
            assert p.preview is not None and p.preview.shape == (64, 64, 3)
            results[p.stage] = inv.result()
    w, wp, pti = results["w"], results["w+"], results["pti"]
    assert wp.psnr > w.psnr + 0.3 and pti.psnr > wp.psnr + 0.5, (w.psnr, wp.psnr, pti.psnr)
    assert pti.G is not demo_G and not any(p.requires_grad for p in pti.G.parameters())
    assert torch.equal(pti.ws, wp.ws)  # PTI tunes the generator around the W+ pivot
    after = demo_G.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())  # the input G untouched, noise included
    session = DragSession(pti.G, pti.ws)  # the result edits as any latent: what it shows is the reconstruction
    assert np.array_equal(session.render(), pti.image)


def test_pti_stops_early_when_close_enough(demo_G, face):
    inv = Inversion(demo_G, face, InversionConfig(w_steps=30, pti_steps=200, pti_stop_psnr=20, **FAST))
    last = None
    while not inv.done:
        last = inv.step()
    assert inv.stages["pti"]["steps"] < 200 and last.done_steps == last.total_steps == 230


def test_noise_buffers_are_fitted_and_renormalised_in_the_w_stage_only():
    G = tiny_generator(seed=1)
    before = state(G)
    target = to_uint8(tiny_generator(seed=2).synthesis(torch.randn(1, G.num_ws, G.w_dim)))
    inv = Inversion(G, target, InversionConfig(w_steps=8, pti_steps=2, pti_stop_psnr=0, **FAST))
    for _ in range(4):
        inv.step()
    fitted = {k: v.detach() for k, v in inv._noise.items()}
    assert fitted and all(abs(float(v.mean())) < 1e-5 and abs(float(v.square().mean()) - 1) < 1e-4
                          for v in fitted.values())
    assert any(not torch.equal(v, before[f"synthesis.{k}"]) for k, v in fitted.items())
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())  # swapped in per call, never written
    r = inv.run()
    assert inv._noise is None  # dropped at the W stage's end: the result renders with G's own noise
    tuned = r.G.synthesis.state_dict()
    assert all(torch.equal(tuned[k], before[f"synthesis.{k}"]) for k in fitted)
    no_pti = Inversion(G, target, InversionConfig(w_steps=4, **FAST)).run()
    assert no_pti.G is G and np.array_equal(DragSession(G, no_pti.ws).render(), no_pti.image)


def test_noise_helpers():
    gen = torch.Generator().manual_seed(0)
    white = [torch.randn(32, 32, generator=gen) * 3 + 1]
    renormalise(white)
    assert abs(float(white[0].mean())) < 1e-6 and abs(float(white[0].std(unbiased=False)) - 1) < 1e-5
    smooth = [torch.nn.functional.avg_pool2d(white[0][None, None], 3, 1, 1)[0, 0]]
    renormalise(smooth)
    assert float(noise_penalty(smooth)) > 100 * float(noise_penalty(white))  # correlated noise is penalised
    assert float(noise_penalty([torch.randn(16, 8)])) >= 0  # rectangular maps (StyleGAN-Human)


def test_cancel_through_the_callback(demo_G, face):
    seen = []
    inv = Inversion(demo_G, face, InversionConfig(w_steps=50, **FAST))
    r = inv.run(lambda p: seen.append(p) or len(seen) < 3)
    assert len(seen) == 3 and not inv.done and r.stages["w"]["steps"] == 3
    assert seen[-1].done_steps == 3 and seen[-1].total_steps == 50 and math.isfinite(r.psnr)


@pytest.mark.parametrize("name, steps", [("shg_64x32.pkl", 6), ("sg3_t_64.pkl", 1)])  # StyleGAN3 is slow on CPU
def test_other_families(name, steps):
    G = load_generator(fixture_path(name), "cpu")
    H, W = G.img_size
    target = to_uint8(G.synthesis(seed_to_ws(G, 5, 0.5)))
    before = state(G)
    cfg = InversionConfig(w_steps=steps, wplus_steps=steps, pti_steps=steps, pti_stop_psnr=0, **FAST)
    r = Inversion(G, target, cfg).run()
    assert r.image.shape == (H, W, 3) and r.G is not G and math.isfinite(r.psnr)
    assert np.array_equal(DragSession(r.G, r.ws).render(), r.image)
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in before.items())
    if G.family == "StyleGAN2":  # rectangular: W then W+ lower the loss
        assert r.stages["w+"]["losses"][-1] < r.stages["w"]["losses"][0]


# ---- losses ----

def _ssim_reference(x: np.ndarray, y: np.ndarray, win: int = 11, sigma: float = 1.5, L: float = 2.0):
    """SSIM and cs of [C, H, W] images by explicit loops over every valid window (Wang et al. 2004)."""
    k = np.arange(win) - (win - 1) / 2
    g = np.exp(-k ** 2 / (2 * sigma ** 2))
    g = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    ssim, cs = [], []
    for c in range(x.shape[0]):
        for i in range(x.shape[1] - win + 1):
            for j in range(x.shape[2] - win + 1):
                a, b = x[c, i:i + win, j:j + win], y[c, i:i + win, j:j + win]
                ma, mb = (g * a).sum(), (g * b).sum()
                va, vb, cov = (g * a * a).sum() - ma ** 2, (g * b * b).sum() - mb ** 2, (g * a * b).sum() - ma * mb
                s = (2 * cov + c2) / (va + vb + c2)
                cs.append(s)
                ssim.append(s * (2 * ma * mb + c1) / (ma ** 2 + mb ** 2 + c1))
    return float(np.mean(ssim)), float(np.mean(cs))


def test_ms_ssim_matches_a_reference_loop():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 24, 24, generator=gen) * 2 - 1
    y = (x + 0.3 * torch.randn(1, 3, 24, 24, generator=gen)).clamp(-1, 1)
    s1, cs1 = _ssim_reference(x[0].double().numpy(), y[0].double().numpy())
    assert float(ms_ssim(x, y, scales=1)) == pytest.approx(s1, abs=1e-5)
    # two scales: cs at full size, SSIM at half size (a 12 px image: the window shrinks to 11 at most)
    xs, ys = (torch.nn.functional.avg_pool2d(t, 2)[0].double().numpy() for t in (x, y))
    s2, _ = _ssim_reference(xs, ys)
    w = np.array([0.0448, 0.2856]) / (0.0448 + 0.2856)
    assert float(ms_ssim(x, y, scales=2)) == pytest.approx(cs1 ** w[0] * s2 ** w[1], abs=1e-5)


def test_ms_ssim_properties():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    assert msssim_scales(64, 64) == 3 and msssim_scales(256, 256) == 5 and msssim_scales(64, 32) == 2
    assert torch.allclose(ms_ssim(x, x), torch.ones(2))
    noise = torch.randn(x.shape, generator=gen)
    values = [float(ms_ssim(x, x + s * noise)[0]) for s in (0.05, 0.2, 0.8)]
    assert values[0] > values[1] > values[2]
    y = x + 0.2 * noise
    assert torch.allclose(ms_ssim(x, y), ms_ssim(y, x), atol=1e-6)  # symmetric
    assert ms_ssim(x[:, :, :64, :32], y[:, :, :64, :32]).shape == (2,)  # rectangular, small
    assert ms_ssim(x[:, :, :8, :8], y[:, :, :8, :8]).isfinite().all()  # smaller than the window


def test_random_vgg_distance_is_zero_for_identical_images_and_grows_with_noise():
    vgg = RandomVGG(seed=0)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    noise = torch.randn(x.shape, generator=gen)
    assert float(vgg_distance(vgg, x, x)) == 0
    d = [float(vgg_distance(vgg, x + s * noise, x)) for s in (0.02, 0.1, 0.3, 1.0)]
    assert all(a < b for a, b in zip(d, d[1:])), d
    assert torch.equal(RandomVGG(seed=0).stages[0][0].weight, vgg.stages[0][0].weight)  # the seed fixes it


class _StandInD:
    """The `Discriminator.features` interface: block resolution -> [N, C, R/2, W/2] maps."""

    def __init__(self):
        torch.manual_seed(0)
        self.convs = {32: torch.nn.Conv2d(3, 8, 3, 2, 1), 16: torch.nn.Conv2d(8, 8, 3, 2, 1)}

    def features(self, img, blocks=None):
        out, x = {}, img
        for res, conv in self.convs.items():
            x = torch.relu(conv(x))
            out[res] = x
        return {k: v for k, v in out.items() if blocks is None or k in blocks}


def _d_loss_properties(D, x):
    loss = ImageLoss("d", x, D=D)
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(x.shape, generator=gen)
    assert float(loss(x).detach()) == pytest.approx(0, abs=1e-6)
    d = [float(loss(x + s * noise).detach()) for s in (0.05, 0.3, 1.0)]
    assert d[0] < d[1] < d[2], d
    y = (x + 0.3 * noise).requires_grad_(True)
    loss(y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_d_feature_loss_with_a_stand_in():
    _d_loss_properties(_StandInD(), torch.rand(1, 3, 64, 64) * 2 - 1)
    with pytest.raises(DragGANError, match="discriminator"):
        ImageLoss("l1+d", torch.zeros(1, 3, 8, 8))


def test_d_feature_loss_with_the_checkpoints_discriminator(sg2ada_path, fixture_G):
    from stylegan2 import load_discriminator
    D = load_discriminator(sg2ada_path, "cpu")
    x = fixture_G.synthesis(seed_to_ws(fixture_G, 1, 0.7)).clamp(-1, 1)
    _d_loss_properties(D, x)
    r = Inversion(fixture_G, to_uint8(x), InversionConfig(w_steps=4, loss="l1+0.1*d", **FAST), D=D).run()
    assert math.isfinite(r.stages["w"]["losses"][-1])


# ---- the command line ----

def test_invert_then_edit_the_tuned_generator_headless(tmp_path, face):
    from draggan.cli import main
    photo = tmp_path / "photo.png"
    wide = np.concatenate([np.full((64, 16, 3), 200, np.uint8), face, np.full((64, 16, 3), 200, np.uint8)], 1)
    Image.fromarray(wide).save(photo)  # 96x64: the centre crop is the face
    rec = tmp_path / "rec.png"
    assert main(["invert", str(DEMO), "--image", str(photo), "--out", str(rec), "--steps", "40", "--w-plus-steps",
                 "20", "--pti", "--pti-steps", "10", "--no-progress"]) == 0
    report = json.loads((tmp_path / "rec.json").read_text())
    assert set(report["stages"]) == {"w", "w+", "pti"} and report["psnr_db"] > 20 and 0 < report["msssim"] <= 1
    assert report["settings"]["pti_steps"] == 10 and report["box"] == "centre"
    latent = np.load(tmp_path / "rec.latent.npy")
    tuned = tmp_path / "rec.generator.safetensors"
    assert latent.shape == (1, 10, 128) and tuned.is_file()
    G = load_generator(tuned)  # the reconstruction is what the tuned generator renders from the latent
    assert np.array_equal(DragSession(G, torch.from_numpy(latent)).render(), np.asarray(Image.open(rec)))
    points = tmp_path / "p.json"
    points.write_text(json.dumps({"handles": [[30, 40]], "targets": [[34, 40]]}))
    edited = tmp_path / "edited.png"
    assert main(["edit", str(tuned), "--latent", str(tmp_path / "rec.latent.npy"), "--points", str(points),
                 "--out", str(edited), "--steps", "5", "--no-progress"]) == 0
    assert np.asarray(Image.open(edited)).shape == (64, 64, 3)


def test_invert_refuses_bad_input_in_one_line(tmp_path, capsys):
    from draggan.cli import main
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    assert main(["invert", str(DEMO), "--image", str(bad), "--out", str(tmp_path / "r.png")]) == 2
    assert main(["invert", str(DEMO), "--image", str(bad), "--loss", "lpips"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("draggan: error:") for line in err)
    assert "lpips" in err[1] and not (tmp_path / "r.png").exists()


def test_pti_locality_keeps_other_latents_closer():
    G = tiny_generator(seed=4)
    target = to_uint8(tiny_generator(seed=5).synthesis(torch.randn(1, G.num_ws, G.w_dim)))
    others = G.mapping(torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(9)))
    drift = {}
    for weight in (0.0, 1.0):
        cfg = InversionConfig(w_steps=5, pti_steps=15, pti_lr=3e-3, pti_stop_psnr=0, locality=weight, **FAST)
        r = Inversion(G, target, cfg).run()
        drift[weight] = float((r.G.synthesis(others) - G.synthesis(others)).square().mean())
    assert drift[1.0] < 0.8 * drift[0.0], drift


def test_a_non_finite_loss_is_one_clear_error():
    G = tiny_generator(seed=6)
    target = to_uint8(G.synthesis(torch.randn(1, G.num_ws, G.w_dim)))
    inv = Inversion(G, target, InversionConfig(w_steps=3, **FAST))
    inv.loss = lambda img: img.sum(dim=(1, 2, 3)) * float("nan")  # stands in for a diverged optimisation
    with pytest.raises(DragGANError, match="NaN or infinity"):
        inv.step()
