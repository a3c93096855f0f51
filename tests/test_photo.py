"""Loading a user's picture: every hostile file gets one clear `DragGANError`, every odd format plain RGB."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from draggan.errors import DragGANError
from draggan.photo import MAX_UPSCALE, aspect_box, centre_box, check_box, fit_to_model, load_photo


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand (Pillow writes no 16-bit RGB, and a bomb's header must lie)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_a_plain_rgb_png_loads_unchanged(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert photo.rgb.dtype == np.uint8 and photo.size == (40, 30)
    np.testing.assert_array_equal(photo.rgb, rgb)
    assert photo.notes == [] and photo.path.endswith("a.png")


@pytest.mark.parametrize("content, expect", [
    (b"hello, this is text", "not a picture"),
    (b"", "not a picture"),
])
def test_not_an_image(tmp_path, content, expect):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(DragGANError) as e:
        load_photo(tmp_path / "x.png")
    assert expect in one_line(e)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DragGANError, match="no picture"):
        load_photo(tmp_path / "nope.png")
    with pytest.raises(DragGANError, match="folder"):
        load_photo(tmp_path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path, fmt):
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = tmp_path / f"t.{fmt.lower()}"
    Image.fromarray(rgb).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DragGANError) as e:
        load_photo(path)
    assert "truncated or damaged" in one_line(e)


@pytest.mark.parametrize("side", [10_000, 30_000])  # Pillow warns above 89 MP and raises above twice that
def test_decompression_bomb_is_refused_with_its_pixel_count(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(side, side, 8, 2, None))  # a header that promises side^2 pixels
    with pytest.raises(DragGANError) as e:
        load_photo(path)
    msg = one_line(e)
    assert f"{side * side:,} pixels" in msg and "decompression bomb" in msg


def test_own_pixel_limit(tmp_path):
    Image.new("RGB", (40, 40)).save(tmp_path / "a.png")
    with pytest.raises(DragGANError, match="1,600 pixels, more than the 1,000 allowed"):
        load_photo(tmp_path / "a.png", max_pixels=1000)


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 64, 32768, 65535]] * 16, dtype=np.uint16)  # [16, 4]
    values = np.repeat(values, 4, axis=1)  # [16, 16]
    Image.fromarray(values).save(tmp_path / "g16.png")
    photo = load_photo(tmp_path / "g16.png")
    np.testing.assert_array_equal(photo.rgb[0, ::4, 0], [0, 64, 128, 255])
    assert (photo.rgb[..., 0] == photo.rgb[..., 2]).all()
    assert any("16-bit" in n for n in photo.notes)


def test_16_bit_rgb_keeps_the_high_byte(tmp_path):
    px = np.zeros((16, 16, 3), dtype=">u2")
    px[..., 0], px[..., 1], px[..., 2] = 65535, 32896, 300  # -> 255, 128, 1
    rows = b"".join(b"\0" + px[y].tobytes() for y in range(16))
    (tmp_path / "c16.png").write_bytes(png_bytes(16, 16, 16, 2, rows))
    photo = load_photo(tmp_path / "c16.png")
    assert tuple(photo.rgb[3, 3]) == (255, 128, 1)


def test_palette_grayscale_and_cmyk_become_rgb(tmp_path):
    rgb = np.zeros((20, 20, 3), dtype=np.uint8)
    rgb[:, 10:] = (200, 30, 40)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    assert tuple(load_photo(tmp_path / "p.png").rgb[5, 15]) == (200, 30, 40)

    Image.fromarray(np.full((20, 20), 90, np.uint8)).save(tmp_path / "l.png")
    grey = load_photo(tmp_path / "l.png")
    assert grey.rgb.shape == (20, 20, 3) and (grey.rgb == 90).all() and "grayscale" in grey.notes[0]

    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    cmyk = load_photo(tmp_path / "c.jpg")
    r, g, b = cmyk.rgb[10, 10].astype(int)
    assert r > 200 and g < 60 and b < 60 and "CMYK" in cmyk.notes[0]


def test_transparency_is_composited_on_the_background_and_said(tmp_path):
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    rgba[:10, :, 3] = 0  # top half fully transparent
    rgba[10:, :10, 3] = 128  # half-transparent red
    Image.fromarray(rgba).save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert tuple(photo.rgb[0, 0]) == (255, 255, 255)
    assert tuple(photo.rgb[15, 15]) == (255, 0, 0)
    assert tuple(photo.rgb[15, 5]) == (255, 127, 127)
    assert any("composited" in n and "background" in n for n in photo.notes)
    black = load_photo(tmp_path / "a.png", background=(0, 0, 0))
    assert tuple(black.rgb[0, 0]) == (0, 0, 0)

    la = np.zeros((20, 20, 2), dtype=np.uint8)
    la[..., 0], la[..., 1] = 100, 255
    la[0, 0, 1] = 0
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    photo = load_photo(tmp_path / "la.png")
    assert tuple(photo.rgb[0, 0]) == (255, 255, 255) and tuple(photo.rgb[5, 5]) == (100, 100, 100)

    opaque = rgba.copy()
    opaque[..., 3] = 255
    Image.fromarray(opaque).save(tmp_path / "o.png")
    assert load_photo(tmp_path / "o.png").notes == []  # an alpha channel with nothing transparent says nothing


def test_exif_orientation_is_honoured(tmp_path):
    rgb = np.zeros((20, 40, 3), dtype=np.uint8)  # stored wide, [h=20, w=40]
    rgb[:6, :6] = (255, 0, 0)  # stored top-left
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    im.save(tmp_path / "r.jpg", exif=exif, quality=100)
    photo = load_photo(tmp_path / "r.jpg")
    assert photo.size == (40, 20)  # shown tall
    assert photo.rgb[1, -2, 0] > 150 and photo.rgb[-2, 1, 0] < 50  # stored top-left is shown top-right
    assert any("EXIF" in n for n in photo.notes)


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    photo = load_photo(tmp_path / "a.gif")
    assert tuple(photo.rgb[5, 5]) == (255, 0, 0)
    assert any("first of its 2 frames" in n for n in photo.notes)


def test_a_tiny_picture_is_refused(tmp_path):
    Image.new("RGB", (10, 30)).save(tmp_path / "t.png")
    with pytest.raises(DragGANError) as e:
        load_photo(tmp_path / "t.png")
    assert "10x30" in one_line(e)


# ---- fit_to_model ----
def test_centre_crop_to_square_and_to_the_tall_human_aspect():
    assert centre_box((100, 200), (64, 64)) == (50, 0, 150, 100)
    assert centre_box((200, 100), (64, 64)) == (0, 50, 100, 150)
    assert centre_box((100, 200), (128, 64)) == (75, 0, 125, 100)  # 2:1 tall, from a wide photo
    rgb = np.zeros((100, 200, 3), dtype=np.uint8)
    rgb[:, 50:150] = 200  # the centre square
    out = fit_to_model(rgb, (64, 64))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and (out == 200).all()
    tall = fit_to_model(rgb, (128, 64))
    assert tall.shape == (128, 64, 3) and (tall == 200).all()


def test_a_box_selects_the_region():
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[10:30, 60:80] = (0, 255, 0)
    out = fit_to_model(rgb, (32, 32), box=(60, 10, 80, 30), notes=(notes := []))
    assert (out == (0, 255, 0)).all()
    assert notes == ["upscaled from 20x20 to 32x32"]


def test_an_off_aspect_box_is_narrowed_not_stretched():
    assert aspect_box((0, 0, 100, 50), (64, 64)) == (25, 0, 75, 50)
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[:, 25:75] = 255
    notes = []
    out = fit_to_model(rgb, (16, 16), box=(0, 0, 100, 50), notes=notes)
    assert (out == 255).all() and "narrowed" in notes[0]


@pytest.mark.parametrize("box, expect", [
    ((-1, 0, 50, 50), "outside"),
    ((0, 0, 101, 50), "outside"),
    ((50, 50, 50, 80), "empty"),
    ((60, 0, 20, 40), "empty"),
    ((0, 0, 10), "four"),
    ("abcd", "four numbers"),
    ((0, 0, float("nan"), 5), "finite"),
])
def test_bad_boxes(box, expect):
    with pytest.raises(DragGANError) as e:
        check_box(box, (100, 100))
    assert expect in one_line(e)


def test_too_much_upscaling_is_refused():
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    fit_to_model(rgb, (64 * int(MAX_UPSCALE), 64 * int(MAX_UPSCALE)), box=(0, 0, 64, 64))  # just allowed
    with pytest.raises(DragGANError, match="smaller than the model"):
        fit_to_model(rgb, (256, 256), box=(0, 0, 20, 20))


def test_the_resize_is_antialiased():
    """A fine checkerboard shrinks to grey, not to an alias pattern (which a nearest-pixel resize gives)."""
    board = ((np.indices((256, 256)).sum(0) % 2) * 255).astype(np.uint8)
    out = fit_to_model(np.repeat(board[..., None], 3, axis=2), (32, 32)).astype(int)
    assert abs(out.mean() - 127.5) < 3 and out.std() < 6


def test_a_drawn_crop_keeps_the_model_aspect_and_stays_inside():
    from draggan.gui.photo_dialog import drag_box
    assert drag_box((10, 10), (50, 30), (100, 200), (64, 64)) == (10, 10, 50, 50)  # covers the pointer
    assert drag_box((50, 50), (10, 40), (100, 200), (64, 64)) == (10, 10, 50, 50)  # dragged up-left
    assert drag_box((150, 80), (300, 90), (100, 200), (64, 64)) == (150, 80, 170, 100)  # stopped by the bottom
    assert drag_box((10, 10), (30, 12), (100, 200), (128, 64)) == (10, 10, 30, 50)  # 2:1 tall
    assert drag_box((10, 10), (11, 11), (100, 200), (64, 64)) is None  # a click keeps the old crop
