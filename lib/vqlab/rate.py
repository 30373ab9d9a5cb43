"""What a photo costs in bits: token grids against JPEG and WebP, headers counted alike.

A rate is bits per pixel, ``8 * bytes / (H * W)``. Every file is split the same way into
a *header* (what a decoder must be told before it reads any image data: sizes, tables,
container) and a *payload* (the entropy-coded image data), and two rates are reported:
the whole file's and the payload's alone. At 256 x 256 a byte costs 1/8192 bpp, so a
300-byte header alone is 0.037 bpp, a quarter of the f = 8 tokens' payload.

* JPEG (``encode(image, "jpeg", q)``): Pillow's baseline encoder with
  ``optimize=True`` (Huffman tables fitted to the image) and 4:2:0 chroma subsampling
  (Pillow's default, passed explicitly). Header: every byte that is not entropy-coded
  data: SOI, APP0 (JFIF), the quantisation tables, SOF, the Huffman tables and the SOS
  segment up to the first byte of scan data, plus the EOI marker; payload: the
  entropy-coded segment after each SOS (byte stuffing included). The optimised Huffman
  tables carry information about the image and the quantisation tables about the
  quality, yet they count as header: the payload-only rate is a lower bound on what
  JPEG needs, generous to JPEG.
* WebP (``encode(image, "webp", q)``): Pillow's lossy WebP (libwebp, method 4, always
  4:2:0). Header: the RIFF header (12 bytes), each chunk's 8-byte header and padding,
  the VP8 frame header (10 bytes: frame tag, start code, width and height), any
  VP8X/ICCP/EXIF/XMP chunk; payload: the rest of the VP8 bitstream (the boolean-coded
  first partition, whose segment and filter parameters cannot be split from the
  macroblock modes, and the token partitions).
* Tokens: a token file is a ``TOKEN_HEADER`` of 5 bytes (which tokenizer and prior, one
  byte; the grid's height and width, two bytes each) and a payload. Raw, every token
  is written in log2(K) bits: ``ceil(h * w * log2(K) / 8)`` bytes. Coded with a
  learned prior (``vqlab.prior``, a gated PixelCNN over the grid), an arithmetic coder
  driven by the prior writes the grid in its code length ``b = -log2 p(tokens)``
  (``prior.bits``) plus at most 2 bits to terminate: ``ceil((b + 2) / 8)`` bytes. The
  model's weights, like a JPEG decoder's code, live with the decoder and are not
  counted.

``codec_curve`` gives a codec's mean PSNR and rates per quality over photos (a curve),
``codec_at_psnr`` the cheapest quality of one photo that reaches a PSNR, ``rate_table``
a model's rate per photo against both codecs at the model's PSNR, and
``vqlab.plots.rate_distortion`` draws the curves and the models' points.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct

import numpy as np
from PIL import Image

from . import checks, metrics
from .images import as_batch

CODECS = ("jpeg", "webp")
QUALITIES = {"jpeg": tuple(range(1, 101)), "webp": tuple(range(0, 101))}
JPEG_OPTIONS = {"optimize": True, "subsampling": "4:2:0"}
WEBP_OPTIONS = {"method": 4, "lossless": False}
# A token file's header: which (tokenizer, prior) pair, grid height, grid width.
TOKEN_HEADER = struct.Struct(">BHH")
TOKEN_HEADER_BYTES = TOKEN_HEADER.size  # 5
ARITHMETIC_CODER_SLACK_BITS = 2  # an arithmetic coder ends within 2 bits of -log2 p


def bpp(num_bytes, height: int, width: int) -> float:
    """Bits per pixel of ``num_bytes`` for an image of ``height`` x ``width`` pixels."""
    return 8.0 * float(num_bytes) / (height * width)


# Codecs -------------------------------------------------------------------------------


def _check_codec(codec) -> str:
    if codec not in CODECS:
        raise ValueError(f"codec should be one of {CODECS}, got {codec!r}")
    if codec == "webp":
        from PIL import features

        if not features.check("webp"):
            raise RuntimeError(
                "this Pillow was built without WebP support "
                "(PIL.features.check('webp') is False): install a Pillow wheel from "
                "PyPI, which bundles libwebp"
            )
    return codec


def _check_quality(codec: str, quality) -> int:
    qs = QUALITIES[codec]
    if not checks.is_int(quality) or not qs[0] <= quality <= qs[-1]:
        raise ValueError(
            f"{codec} quality should be an integer in [{qs[0]}, {qs[-1]}], "
            f"got {quality!r}"
        )
    return int(quality)


def _uint8_rgb(image) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(
            f"expected one RGB image (H, W, 3), got shape {np.shape(image)}"
        )
    if a.dtype == np.uint8:
        return a
    return np.round(np.clip(a.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def encode(image, codec: str, quality: int) -> tuple[np.ndarray, bytes]:
    """Encode one image (H, W, 3; floats in [0, 1] or uint8) with ``codec`` ("jpeg"
    or "webp") at ``quality``: (the decoded image, float32 (H, W, 3) in [0, 1]; the
    file's bytes)."""
    codec = _check_codec(codec)
    quality = _check_quality(codec, quality)
    buf = io.BytesIO()
    pil = Image.fromarray(_uint8_rgb(image))
    if codec == "jpeg":
        pil.save(buf, "JPEG", quality=quality, **JPEG_OPTIONS)
    else:
        pil.save(buf, "WEBP", quality=quality, **WEBP_OPTIONS)
    data = buf.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    return decoded / 255.0, data


def _jpeg_payload(data: bytes) -> int:
    """Bytes of entropy-coded data in a JPEG file (every scan's, after its SOS)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file: it does not start with SOI (FF D8)")
    i, payload, n = 2, 0, len(data)
    while i < n:
        if data[i] != 0xFF:
            raise ValueError(f"malformed JPEG: expected a marker at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0xD9:  # EOI
            return payload
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM, RSTn: no length
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:  # SOS: entropy-coded data until the next real marker
            start = i
            while i + 1 < n and not (
                data[i] == 0xFF
                and data[i + 1] != 0x00
                and not 0xD0 <= data[i + 1] <= 0xD7
            ):
                i += 1
            payload += i - start
    raise ValueError("malformed JPEG: no EOI marker")


_WEBP_FRAME_HEADER = {"VP8 ": 10, "VP8L": 5}  # lossy key frame; lossless signature+size


def _webp_payload(data: bytes) -> int:
    """Bytes of image data in a WebP file: the VP8 (or VP8L, ALPH) chunks' bitstreams
    after their frame headers."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file: it does not start with RIFF....WEBP")
    i, payload = 12, 0
    while i + 8 <= len(data):
        tag, size = (
            data[i : i + 4].decode("latin-1"),
            int.from_bytes(data[i + 4 : i + 8], "little"),
        )
        if tag in _WEBP_FRAME_HEADER:
            if tag == "VP8 " and data[i + 8] & 1:
                raise ValueError("malformed WebP: its VP8 frame is not a key frame")
            payload += size - _WEBP_FRAME_HEADER[tag]
        elif tag == "ALPH":
            payload += size - 1  # one byte of alpha header
        i += 8 + size + (size & 1)
    return payload


def payload_bytes(data: bytes) -> int:
    """Bytes of entropy-coded image data in a JPEG or WebP file (see the module's text);
    the rest, ``len(data) - payload_bytes(data)``, is header."""
    data = bytes(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_payload(data)
    if data[:4] == b"RIFF":
        return _webp_payload(data)
    raise ValueError("not a JPEG or WebP file (unknown magic bytes)")


def header_bytes(data: bytes) -> int:
    """Bytes of a JPEG or WebP file that are not entropy-coded image data."""
    return len(data) - payload_bytes(data)


def measure(image, codec: str, quality: int) -> dict:
    """One encoding of ``image``: quality, PSNR (dB, peak 1) of the decoded image to
    ``image``, file and payload bytes, and their bits per pixel."""
    decoded, data = encode(image, codec, quality)
    h, w = decoded.shape[:2]
    pay = payload_bytes(data)
    return {
        "codec": codec,
        "quality": int(quality),
        "psnr_db": float(metrics.psnr(as_batch(image), decoded[None])[0]),
        "file_bytes": len(data),
        "header_bytes": len(data) - pay,
        "payload_bytes": pay,
        "file_bpp": bpp(len(data), h, w),
        "payload_bpp": bpp(pay, h, w),
    }


_SWEEPS: dict = {}  # (sha256 of the pixels, shape, dtype, codec, qualities) -> measures
_MAX_SWEEPS = 512


def sweep(image, codec: str, qualities=None) -> list[dict]:
    """``measure`` at every quality of ``qualities`` (default ``QUALITIES[codec]``).
    Remembered per image, codec and qualities, so that two models judged on the same
    photos encode each photo once."""
    codec = _check_codec(codec)
    qualities = QUALITIES[codec] if qualities is None else qualities
    qualities = tuple(_check_quality(codec, q) for q in qualities)
    a = np.ascontiguousarray(image)
    _uint8_rgb(a)  # checks the shape
    key = (
        hashlib.sha256(a.tobytes()).hexdigest(),
        a.shape,
        a.dtype.str,
        codec,
        qualities,
    )
    if key not in _SWEEPS:
        if len(_SWEEPS) >= _MAX_SWEEPS:
            _SWEEPS.clear()
        _SWEEPS[key] = tuple(measure(a, codec, q) for q in qualities)
    return [dict(r) for r in _SWEEPS[key]]


def codec_curve(images, codec: str, qualities=None) -> dict:
    """``codec`` as a rate-distortion curve over ``images`` (n, H, W, 3): per quality,
    the mean over the images of the PSNR (dB), of the whole-file and the payload-only
    bits per pixel and of the header's bytes. Arrays in quality order, plus ``codec``
    and ``label``."""
    images = as_batch(images) if np.asarray(images).dtype != np.uint8 else images
    rows = [sweep(x, codec, qualities) for x in images]
    if not rows:
        raise ValueError("codec_curve needs at least one image, got none")

    def mean(key):
        return np.array(
            [np.mean([r[k][key] for r in rows]) for k in range(len(rows[0]))]
        )

    return {
        "codec": codec,
        "label": {"jpeg": "JPEG", "webp": "WebP"}[codec],
        "quality": np.array([r["quality"] for r in rows[0]]),
        "psnr_db": mean("psnr_db"),
        "file_bpp": mean("file_bpp"),
        "payload_bpp": mean("payload_bpp"),
        "header_bytes": mean("header_bytes"),
    }


def codec_at_psnr(image, codec: str, target: float, qualities=None) -> dict:
    """The lowest-rate encoding of ``image`` (smallest file) whose PSNR reaches
    ``target`` dB, every quality tried (WebP's PSNR is not monotonic in its quality, by
    up to a tenth of a dB): ``measure``'s dict and ``floor``, True when no quality
    gives a smaller file, i.e. even the codec's cheapest file passes ``target`` (it
    cannot trade PSNR for fewer bits below that, so this is its rate at ``target``).
    With no quality reaching ``target``: ``quality`` None and NaN rates."""
    if not checks.is_number(target):
        raise ValueError(f"target should be a PSNR in dB (a number), got {target!r}")
    rows = sweep(image, codec, qualities)
    reached = [r for r in rows if r["psnr_db"] >= target]
    if not reached:
        nan = float("nan")
        return {
            "codec": codec,
            "quality": None,
            "psnr_db": nan,
            "file_bytes": None,
            "header_bytes": None,
            "payload_bytes": None,
            "file_bpp": nan,
            "payload_bpp": nan,
            "floor": False,
        }
    best = min(reached, key=lambda r: (r["file_bytes"], r["quality"]))
    return best | {"floor": best["file_bytes"] <= min(r["file_bytes"] for r in rows)}


# Tokens -------------------------------------------------------------------------------


def token_header(model_id: int, height: int, width: int) -> bytes:
    """A token file's header: which (tokenizer, prior) pair (0..255), grid h, w."""
    return TOKEN_HEADER.pack(model_id, height, width)


def raw_token_bits(model) -> float:
    """Payload bits of one grid with every token in log2(K) bits: h * w * log2(K)."""
    h, w = model.grid_shape
    return float(h * w * math.log2(model.num_codes))


def token_bits_per_pixel(model) -> float:
    """Payload rate of a token grid with every token coded in log2(K) bits:
    h * w * log2(K) / (H * W), no header."""
    return raw_token_bits(model) / (model.image_shape[0] * model.image_shape[1])


def token_file_bytes(payload_bits: float) -> int:
    """Bytes of a token file whose payload is ``payload_bits``: header + whole bytes."""
    return TOKEN_HEADER_BYTES + math.ceil(payload_bits / 8)


def prior_payload_bytes(bits: float) -> int:
    """Bytes an arithmetic coder writes for a grid of code length ``bits``."""
    return math.ceil((bits + ARITHMETIC_CODER_SLACK_BITS) / 8)


def check_prior(model, prior) -> None:
    """Raise unless ``prior`` has ``model``'s token grid and number of codes."""
    grid = tuple(getattr(prior, "grid_shape", ()))
    if grid != tuple(model.grid_shape):
        raise ValueError(
            f"the prior models {grid} token grids but the model's grid is "
            f"{tuple(model.grid_shape)}: use a prior trained on this model's tokens "
            f"(GatedPixelCNN(image_shape={tuple(model.grid_shape) + (1,)}))"
        )
    if prior.num_codes != model.num_codes:
        raise ValueError(
            f"the prior has {prior.num_codes} codes but the model {model.num_codes}"
        )


def prior_bits(model, prior, tokens) -> np.ndarray:
    """Code length in bits of each grid ``tokens`` (n, h, w) under ``prior``: exactly
    ``vqlab.prior.bits(prior, tokens)`` (unconditional), once the prior is checked."""
    from . import prior as _prior

    check_prior(model, prior)
    return _prior.bits(prior, tokens)


def _nan_if_none(v):
    return float("nan") if v is None else v


def rate_table(model, images, names, prior=None) -> list[dict]:
    """Per photo of ``images`` (n, H, W, 3), named ``names``: the model's PSNR through
    its tokens (``decode(encode(x))``); the tokens' rate raw (log2 K per token) and,
    with a ``prior`` (a ``GatedPixelCNN`` over the model's grid and codes, else a
    ValueError), coded by it (``prior_bits``: ``vqlab.prior.bits`` of the grid); and the
    cheapest JPEG and WebP of the photo that reach the model's PSNR (``codec_at_psnr``;
    ``*_floor`` True where even the codec's cheapest file is better than the model).
    Rates in bits per pixel, whole file (``*_file_bpp``, a token file's header is
    ``TOKEN_HEADER_BYTES``) and payload only (``*_payload_bpp``). Also under the names
    ``vqlab.photos.rate_table`` had: ``model_bpp`` (= ``tokens_payload_bpp``) and
    ``jpeg_bpp`` (= ``jpeg_file_bpp``)."""
    x = as_batch(images)
    names = list(names)
    if len(names) != len(x):
        raise ValueError(f"{len(x)} images but {len(names)} names")
    if prior is not None:
        check_prior(model, prior)
    tokens = model.encode(x)
    rec = as_batch(model.decode(tokens))
    psnrs = metrics.psnr(x, rec)
    H, W = x.shape[1:3]
    raw_bits = raw_token_bits(model)
    code_bits = prior_bits(model, prior, tokens) if prior is not None else None
    rows = []
    for i, (name, xi, p) in enumerate(zip(names, x, psnrs)):
        row = {
            "photo": name,
            "model_psnr_db": float(p),
            "tokens_file_bpp": bpp(token_file_bytes(raw_bits), H, W),
            "tokens_payload_bpp": raw_bits / (H * W),
        }
        if code_bits is not None:
            b = float(code_bits[i])
            pay = prior_payload_bytes(b)
            row |= {
                "prior_bits": b,
                "prior_file_bpp": bpp(TOKEN_HEADER_BYTES + pay, H, W),
                "prior_payload_bpp": bpp(pay, H, W),
            }
        for codec in CODECS:
            c = codec_at_psnr(xi, codec, float(p))
            row |= {
                f"{codec}_quality": c["quality"],
                f"{codec}_psnr_db": c["psnr_db"],
                f"{codec}_file_bpp": c["file_bpp"],
                f"{codec}_payload_bpp": c["payload_bpp"],
                f"{codec}_header_bytes": _nan_if_none(c["header_bytes"]),
                f"{codec}_floor": c["floor"],
            }
        row |= {
            "model_bpp": row["tokens_payload_bpp"],
            "jpeg_bpp": row["jpeg_file_bpp"],
        }
        rows.append(row)
    return rows


def mean_row(rows: list[dict], label: str | None = None) -> dict:
    """The mean over ``rate_table``'s rows of every numeric column (a codec that never
    reaches a photo's PSNR makes its means NaN, not hidden), and for each ``*_floor``
    column the number of photos at the codec's floor; ``label`` as ``label``."""
    if not rows:
        raise ValueError("mean_row needs at least one row, got none")
    out = {"label": label} if label is not None else {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        if all(isinstance(v, bool) for v in vals):
            out[key] = int(sum(vals))
        elif all(checks.is_number(v) or v != v for v in vals):  # numbers or NaN
            out[key] = float(np.mean(vals))
    return out


def point(rows: list[dict], label: str) -> dict:
    """A model as a point of ``vqlab.plots.rate_distortion``: mean PSNR and rates."""
    m = mean_row(rows)
    p = {
        "label": label,
        "psnr_db": m["model_psnr_db"],
        "file_bpp": m["tokens_file_bpp"],
        "payload_bpp": m["tokens_payload_bpp"],
    }
    if "prior_file_bpp" in m:
        p |= {
            "prior_file_bpp": m["prior_file_bpp"],
            "prior_payload_bpp": m["prior_payload_bpp"],
        }
    return p
