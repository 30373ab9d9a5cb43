"""What a photo costs in bits (vqlab.rate): codecs' headers measured on real files, the
cheapest quality at a PSNR, token rates raw and prior-coded, the rate-distortion plot."""

import math

import numpy as np
import pytest

from vqlab import photos, pretrained, rate
from vqlab import prior as vqprior

HW = 256 * 256


@pytest.fixture(scope="module")
def coffee64():
    return photos.square("coffee", 64)


@pytest.fixture(scope="module")
def photo256():
    return photos.square("chelsea", 256)


def _jpeg_scan_start(data: bytes) -> int:
    """First byte after the (only) SOS segment, read off the file by hand."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


def test_jpeg_header_is_everything_but_the_scan(photo256):
    decoded, data = rate.encode(photo256, "jpeg", 50)
    assert decoded.shape == (256, 256, 3) and decoded.dtype == np.float32
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    assert data.count(b"\xff\xda") == 1  # baseline: one scan
    header = rate.header_bytes(data)
    assert header == _jpeg_scan_start(data) + 2  # up to the scan data, plus EOI
    assert header == len(data) - rate.payload_bytes(data)
    assert 150 < header < 700  # tables of one image, optimised: a few hundred bytes
    m = rate.measure(photo256, "jpeg", 50)
    assert m["header_bytes"] == header and m["file_bytes"] == len(data)
    assert m["file_bpp"] == pytest.approx(8 * len(data) / HW)
    assert m["file_bpp"] - m["payload_bpp"] == pytest.approx(8 * header / HW)


def test_jpeg_is_optimised():
    x = photos.square("astronaut", 128)
    _, data = rate.encode(x, "jpeg", 75)
    import io

    from PIL import Image

    plain = io.BytesIO()
    Image.fromarray(np.round(x * 255).astype(np.uint8)).save(plain, "JPEG", quality=75)
    assert len(data) < plain.tell()  # fitted Huffman tables beat the standard ones


def test_webp_header_is_riff_chunk_and_frame_header(photo256):
    _, data = rate.encode(photo256, "webp", 50)
    assert data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8 "
    assert int.from_bytes(data[4:8], "little") + 8 == len(data)
    chunk = int.from_bytes(data[16:20], "little")
    assert data[23:26] == b"\x9d\x01\x2a"  # the VP8 key frame's start code
    assert rate.payload_bytes(data) == chunk - 10
    assert rate.header_bytes(data) == 12 + 8 + 10 + (chunk & 1)


@pytest.mark.parametrize("codec", rate.CODECS)
def test_flat_image_has_a_tiny_payload_and_the_same_kind_of_header(codec):
    flat = np.full((64, 64, 3), 0.5, np.float32)
    noise = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    f, n = rate.measure(flat, codec, 75), rate.measure(noise, codec, 75)
    assert f["payload_bytes"] * 20 < n["payload_bytes"]
    assert f["header_bytes"] > 0 and n["header_bytes"] > 0
    assert abs(f["header_bytes"] - n["header_bytes"]) < 200  # header: not image data


@pytest.mark.parametrize("codec", rate.CODECS)
@pytest.mark.parametrize("target", [26.0, 31.0])
def test_codec_at_psnr_is_the_cheapest_file_that_reaches_the_target(
    coffee64, codec, target
):
    best = rate.codec_at_psnr(coffee64, codec, target)
    assert best["quality"] is not None and best["psnr_db"] >= target
    again = rate.measure(coffee64, codec, best["quality"])
    assert again["file_bytes"] == best["file_bytes"]  # the figures are this encoding's
    for r in rate.sweep(coffee64, codec):
        if r["file_bytes"] < best["file_bytes"]:
            assert r["psnr_db"] < target  # nothing cheaper reaches it
    lower = rate.measure(coffee64, codec, best["quality"] - 1)
    assert lower["psnr_db"] < target  # the next-lower quality does not


def test_codec_at_psnr_out_of_reach_and_at_the_floor(coffee64):
    none = rate.codec_at_psnr(coffee64, "webp", 200.0)
    assert none["quality"] is None and math.isnan(none["file_bpp"])
    low = rate.codec_at_psnr(coffee64, "jpeg", 0.0)
    assert low["floor"] and low["file_bytes"] == min(
        r["file_bytes"] for r in rate.sweep(coffee64, "jpeg")
    )
    assert not rate.codec_at_psnr(coffee64, "jpeg", 31.0)["floor"]
    old = photos.jpeg_at_psnr(coffee64, 28.0)  # the chapters' name, same search
    assert old["bpp"] == old["file_bpp"] and old["psnr"] >= 28.0


def test_codec_curve_means_over_the_photos(coffee64):
    x = np.stack([coffee64, photos.square("astronaut", 64)])
    qs = (10, 50, 90)
    for codec in rate.CODECS:
        c = rate.codec_curve(x, codec, qs)
        assert list(c["quality"]) == list(qs)
        per = [rate.sweep(xi, codec, qs) for xi in x]
        np.testing.assert_allclose(
            c["psnr_db"], [np.mean([p[k]["psnr_db"] for p in per]) for k in range(3)]
        )
        assert np.all(np.diff(c["psnr_db"]) > 0) and np.all(np.diff(c["file_bpp"]) > 0)
        np.testing.assert_allclose(
            c["file_bpp"] - c["payload_bpp"], 8 * c["header_bytes"] / 64**2
        )


def test_bad_codec_quality_and_image_are_refused(coffee64, monkeypatch):
    with pytest.raises(ValueError, match="codec should be one of"):
        rate.encode(coffee64, "png", 50)
    with pytest.raises(ValueError, match="quality should be an integer in"):
        rate.encode(coffee64, "jpeg", 0)
    with pytest.raises(ValueError, match="quality should be an integer in"):
        rate.codec_curve(coffee64[None], "webp", (50, 101))
    with pytest.raises(ValueError, match="RGB image"):
        rate.encode(coffee64[..., 0], "jpeg", 50)
    with pytest.raises(ValueError, match="not a JPEG or WebP"):
        rate.payload_bytes(b"\x89PNG\r\n\x1a\n")
    from PIL import features

    monkeypatch.setattr(features, "check", lambda name: False)
    with pytest.raises(RuntimeError, match="without WebP support"):
        rate.encode(coffee64, "webp", 50)


def test_token_header_is_five_bytes():
    assert rate.TOKEN_HEADER_BYTES == 5
    assert len(rate.token_header(3, 32, 32)) == rate.TOKEN_HEADER_BYTES
    assert rate.token_file_bytes(9216) == 5 + 1152


def tiny_prior(grid=(32, 32), num_codes=512):
    from vqlab.models.prior import GatedPixelCNN

    return pretrained.create_weights(
        GatedPixelCNN(
            num_codes=num_codes,
            channels=8,
            num_layers=2,
            num_classes=1,
            label_dropout=0.0,
            image_shape=grid + (1,),
        )
    )


needs_f8 = pytest.mark.skipif(
    "photo_f8" not in pretrained.names(), reason="photo_f8 is not shipped"
)


@pytest.fixture(scope="module")
def f8_table():
    model = pretrained.load("photo_f8")
    x = photos.held_out(256)[:2]
    prior = tiny_prior()
    return model, x, prior, rate.rate_table(model, x, photos.HELD_OUT[:2], prior)


@needs_f8
def test_photo_f8_tokens_rate_raw_and_prior_coded(f8_table):
    model, x, prior, rows = f8_table
    tokens = model.encode(x)
    bits = vqprior.bits(prior, tokens)
    for r, b in zip(rows, bits):
        assert r["tokens_payload_bpp"] == 32 * 32 * 9 / HW == r["model_bpp"]
        assert r["tokens_file_bpp"] == (32 * 32 * 9 + 8 * 5) / HW
        assert r["prior_bits"] == float(b)  # exactly vqlab.prior.bits of the grid
        pay = math.ceil((b + 2) / 8)
        assert r["prior_payload_bpp"] == 8 * pay / HW
        assert r["prior_file_bpp"] == 8 * (pay + 5) / HW
    p = photos.psnr(x, model.decode(tokens))
    np.testing.assert_allclose([r["model_psnr_db"] for r in rows], p)


@needs_f8
def test_rate_table_codecs_at_the_models_psnr(f8_table):
    model, x, _, rows = f8_table
    for r, xi in zip(rows, x):
        for codec in rate.CODECS:
            c = rate.codec_at_psnr(xi, codec, r["model_psnr_db"])
            assert r[f"{codec}_file_bpp"] == c["file_bpp"]
            assert r[f"{codec}_payload_bpp"] < r[f"{codec}_file_bpp"]
            assert r[f"{codec}_psnr_db"] >= r["model_psnr_db"]
        assert r["jpeg_bpp"] == r["jpeg_file_bpp"]
    m = rate.mean_row(rows, "photo_f8")
    assert m["model_psnr_db"] == pytest.approx(
        np.mean([r["model_psnr_db"] for r in rows])
    )
    assert m["webp_floor"] == sum(r["webp_floor"] for r in rows)
    p = rate.point(rows, "photo_f8")
    assert p["prior_file_bpp"] == m["prior_file_bpp"]


@needs_f8
def test_prior_of_another_grid_or_codebook_is_refused(f8_table):
    model, x, _, _ = f8_table
    with pytest.raises(ValueError, match=r"\(16, 16\) token grids.*\(32, 32\)"):
        rate.rate_table(model, x[:1], ["a"], tiny_prior((16, 16)))
    with pytest.raises(ValueError, match="64 codes but the model 512"):
        rate.prior_bits(model, tiny_prior(num_codes=64), model.encode(x[:1]))
    with pytest.raises(ValueError, match="1 images but 2 names"):
        rate.rate_table(model, x[:1], ["a", "b"])


def test_rate_distortion_plot(coffee64):
    import matplotlib

    matplotlib.use("Agg")
    from vqlab import plots

    curves = [rate.codec_curve(coffee64[None], c, (10, 50, 90)) for c in rate.CODECS]
    points = [
        {"label": "raw", "psnr_db": 25.0, "file_bpp": 0.6, "payload_bpp": 0.55},
        {
            "label": "coded",
            "psnr_db": 22.0,
            "file_bpp": 0.14,
            "payload_bpp": 0.1406,
            "prior_file_bpp": 0.1,
            "prior_payload_bpp": 0.099,
        },
    ]
    ax = plots.rate_distortion(curves, points)
    assert ax.get_xscale() == "log" and "PSNR" in ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["JPEG", "WebP"] and "coded tokens (prior-coded)" in labels
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), curves[0]["file_bpp"])
    ax = plots.rate_distortion(curves, points, rate="payload", log_x=False)
    np.testing.assert_allclose(ax.get_lines()[1].get_xdata(), curves[1]["payload_bpp"])
    with pytest.raises(ValueError, match="rate should be"):
        plots.rate_distortion(curves, points, rate="bytes")
