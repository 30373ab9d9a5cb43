"""Chapter 11's photo models on the corpus' test source and on the held-out photos: quality
per photo, and rate against JPEG.

The test source (``vqlab.corpus.TEST_SOURCE``, a whole package no model trains on) at
256 x 256 (short side resized, centre crop); goals (issue 21): ``photo_f4`` >= 28.5 dB and
``photo_f8`` >= 24 dB mean PSNR there.

For each shipped photo model (``photo_f4``, ``photo_f8``, ``photo_small``), on each held-out
photo (never trained on; ``vqlab.photos.HELD_OUT``) at the model's size: PSNR and SSIM of
the reconstruction through the tokens, the token grid's rate with every token coded in
log2(K) bits, and the bits per pixel Pillow's JPEG needs to reach the same PSNR. Goal
(issue 12): ``photo_f4`` mean PSNR >= 27 dB at 256 x 256. Also: the f = 4 model trained on
64 x 64 crops applied to 32 x 32 thumbnails, against ``photo_small`` trained on them.
"""

import time

import numpy as np

import vqlab  # noqa: F401  (quiet TensorFlow)
from vqlab import photos, pretrained

GOAL_F4_DB = 27.0
TEST_GOALS_DB = {"photo_f4": 28.5, "photo_f8": 24.0}


def report(name, model, x=None, names=None):
    if x is None:
        x, names = photos.held_out(model.image_shape[0]), photos.HELD_OUT
    t0 = time.perf_counter()
    rec = model.reconstruct(x)
    seconds = time.perf_counter() - t0
    rows = photos.rate_table(model, x, names)
    ssim = photos.ssim(x, rec)
    print(
        f"\n{name}: {model.image_shape[0]}x{model.image_shape[1]} -> {model.grid_shape} tokens of "
        f"{model.num_codes} codes, {model.count_params():,} parameters; {photos.token_bits_per_pixel(model):.3f} "
        f"bits per pixel; encode+decode {1000 * seconds / len(x):.0f} ms per photo"
    )
    print(
        f"{'photo':12s} {'PSNR dB':>8s} {'SSIM':>6s} {'JPEG q':>7s} {'JPEG bpp':>9s} {'JPEG/tokens':>12s}"
    )
    for r, s in zip(rows, ssim):
        print(
            f"{r['photo']:12s} {r['model_psnr_db']:8.2f} {s:6.3f} {str(r['jpeg_quality']):>7s} "
            f"{r['jpeg_bpp']:9.3f} {r['jpeg_bpp'] / r['model_bpp']:12.2f}"
        )
    mean = float(np.mean([r["model_psnr_db"] for r in rows]))
    print(f"{'mean':12s} {mean:8.2f} {float(np.mean(ssim)):6.3f}")
    return mean


def main():
    shipped = [
        n for n in ("photo_f4", "photo_f8", "photo_small") if n in pretrained.names()
    ]
    if not shipped:
        print(
            "no photo model is shipped yet: python -m vqlab.train photo_f4 photo_f8 photo_small"
        )
        return
    test_x, test_names = photos.test_source_photos(256)
    for name, goal in TEST_GOALS_DB.items():
        if name in shipped:
            print(
                f"\n--- test source ({len(test_x)} photos of the corpus' test package, 256x256) ---"
            )
            mean = report(name, pretrained.load(name), test_x, test_names)
            met = "met" if mean >= goal else "NOT met"
            print(
                f"{name} goal: mean PSNR >= {goal} dB on the test source: {mean:.2f} dB ({met})"
            )
    print("\n--- the four held-out sample photos ---")
    means = {n: report(n, pretrained.load(n)) for n in shipped}
    if "photo_f4" in means:
        met = "met" if means["photo_f4"] >= GOAL_F4_DB else "NOT met"
        print(
            f"\nphoto_f4 goal: mean PSNR >= {GOAL_F4_DB} dB on the held-out photos: {means['photo_f4']:.2f} dB ({met})"
        )
    if "photo_f4" in shipped and "photo_small" in shipped:
        small = photos.held_out(32)
        f4_small = photos.at_size(pretrained.load("photo_f4"), 32)
        a = photos.psnr(small, f4_small.reconstruct(small)).mean()
        b = photos.psnr(small, pretrained.load("photo_small").reconstruct(small)).mean()
        print(
            f"32x32 held-out thumbnails: photo_f4 (trained on 64x64 crops) {a:.2f} dB, "
            f"photo_small (trained on 32x32 thumbnails) {b:.2f} dB"
        )


if __name__ == "__main__":
    main()
