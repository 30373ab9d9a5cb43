"""Chapter 11's photo models on the corpus' test source and on the held-out photos: quality
per photo, and rate against JPEG and WebP at the same PSNR.

The test source (``vqlab.corpus.TEST_SOURCE``, a whole package no model trains on) at
256 x 256 (short side resized, centre crop); goals (issue 21): ``photo_f4`` >= 28.5 dB and
``photo_f8`` >= 24 dB mean PSNR there.

For each shipped photo model (``photo_f4``, ``photo_f8``, ``photo_small``), on each photo:
PSNR and SSIM of the reconstruction through the tokens, the token file's rate with every
token coded in log2(K) bits (and, for ``photo_f8`` once ``prior_photo_f8`` is shipped,
coded with that prior), and the bits per pixel Pillow's JPEG (``optimize=True``) and WebP
need to reach the same PSNR: whole files and payloads alone, headers counted the same way
on both sides (``vqlab.rate``). Goal (issue 21): at equal PSNR the prior-coded tokens need
fewer bits than JPEG. Goal (issue 12): ``photo_f4`` mean PSNR >= 27 dB on the held-out
photos at 256 x 256. Also: the f = 4 model trained on 64 x 64 crops applied to 32 x 32
thumbnails, against ``photo_small`` trained on them.

``python benchmarks/photos.py --plot FILE.png`` also draws the rate-distortion plot of the
test source (``vqlab.plots.rate_distortion``).
"""

import sys
import time

import numpy as np

import vqlab  # noqa: F401  (quiet TensorFlow)
from vqlab import photos, pretrained, rate

GOAL_F4_DB = 27.0
TEST_GOALS_DB = {"photo_f4": 28.5, "photo_f8": 24.0}
# the same f = 8 budget, other capacity or training method: measured beside photo_f8
F8_VARIANTS = ("photo_f8_large", "photo_dvae_f8")
PHOTO_MODELS = ("photo_f4", "photo_f8", "photo_small") + F8_VARIANTS
PRIORS = {"photo_f8": "prior_photo_f8"}  # the learned prior over a model's tokens
CURVE_QUALITIES = {
    "jpeg": (1, 2, 5, 10, 20, 30, 50, 75, 90),
    "webp": (0, 5, 10, 25, 50, 75, 90),
}


def shipped_prior(name, model):
    """The shipped prior over ``name``'s tokens, or None while none is shipped."""
    p = PRIORS.get(name)
    if p is None or p not in pretrained.names():
        return None
    prior = pretrained.load(p)
    rate.check_prior(model, prior)
    return prior


def _f(v, width=7, digits=3):
    return f"{'-':>{width}s}" if v is None or v != v else f"{v:{width}.{digits}f}"


def report(name, model, x=None, names=None):
    """Per-photo table of ``model`` on ``x``; returns (mean PSNR, rate_table rows)."""
    if x is None:
        x, names = photos.held_out(model.image_shape[0]), photos.HELD_OUT
    prior = shipped_prior(name, model)
    t0 = time.perf_counter()
    rec = model.reconstruct(x)
    seconds = time.perf_counter() - t0
    rows = photos.rate_table(model, x, names, prior)
    ssim = photos.ssim(x, rec)
    h, w = model.image_shape[:2]
    print(
        f"\n{name}: {h}x{w} -> {model.grid_shape} tokens of {model.num_codes} codes, "
        f"{model.count_params():,} parameters; tokens {rows[0]['tokens_file_bpp']:.4f} "
        f"bpp as a file ({rate.TOKEN_HEADER_BYTES}-byte header), "
        f"{rate.token_bits_per_pixel(model):.4f} payload; encode+decode "
        f"{1000 * seconds / len(x):.0f} ms per photo"
        + ("" if prior is None else f"; prior {PRIORS[name]}")
    )
    print(
        f"{'photo':14s} {'PSNR dB':>7s} {'SSIM':>6s} {'tok bpp':>7s}"
        + (f" {'prior':>7s}" if prior is not None else "")
        + f" {'JPEG q':>6s} {'file':>7s} {'payload':>7s} {'WebP q':>6s} {'file':>7s}"
        f" {'payload':>7s}"
    )
    for r, s in zip(rows, ssim):
        jf, wf = ("*" if r[f"{c}_floor"] else " " for c in ("jpeg", "webp"))
        print(
            f"{str(r['photo'])[:14]:14s} {r['model_psnr_db']:7.2f} {s:6.3f} "
            f"{_f(r['tokens_file_bpp'], 7, 4)}"
            + (f" {_f(r['prior_file_bpp'], 7, 4)}" if prior is not None else "")
            + f" {str(r['jpeg_quality']) + jf:>6s} {_f(r['jpeg_file_bpp'])}"
            f" {_f(r['jpeg_payload_bpp'])} {str(r['webp_quality']) + wf:>6s}"
            f" {_f(r['webp_file_bpp'])} {_f(r['webp_payload_bpp'])}"
        )
    m = rate.mean_row(rows)
    print(
        f"{'mean':14s} {m['model_psnr_db']:7.2f} {float(np.mean(ssim)):6.3f} "
        f"{_f(m['tokens_file_bpp'], 7, 4)}"
        + (f" {_f(m['prior_file_bpp'], 7, 4)}" if prior is not None else "")
        + f" {'':6s} {_f(m['jpeg_file_bpp'])} {_f(m['jpeg_payload_bpp'])}"
        f" {'':6s} {_f(m['webp_file_bpp'])} {_f(m['webp_payload_bpp'])}"
    )
    if m["webp_floor"] or m["jpeg_floor"]:
        print(
            f"* the codec's cheapest file (lowest quality) already beats the model's "
            f"PSNR (JPEG on {m['jpeg_floor']} photos, WebP on {m['webp_floor']}): its "
            f"rate there is its floor (it cannot spend fewer bits), at a higher PSNR"
        )
    return m["model_psnr_db"], rows


def rate_summary(tables):
    """One line per model: mean rates of tokens and codecs at the model's PSNR."""
    print(
        "\n--- rate at equal PSNR, means over the photos (bits per pixel; file = "
        "headers counted, payload = entropy-coded data only) ---"
    )
    print(
        f"{'model':10s} {'PSNR dB':>7s} {'raw file':>8s} {'payload':>8s} "
        f"{'prior':>8s} {'payload':>8s} {'JPEG':>8s} {'payload':>8s} "
        f"{'WebP':>8s} {'payload':>8s} {'JPEG/raw':>8s} {'JPEG/prior':>10s}"
    )
    for name, rows in tables.items():
        m = rate.mean_row(rows)
        pf, pp = m.get("prior_file_bpp"), m.get("prior_payload_bpp")
        print(
            f"{name:10s} {m['model_psnr_db']:7.2f} {_f(m['tokens_file_bpp'], 8, 4)} "
            f"{_f(m['tokens_payload_bpp'], 8, 4)} {_f(pf, 8, 4)} {_f(pp, 8, 4)} "
            f"{_f(m['jpeg_file_bpp'], 8, 4)} {_f(m['jpeg_payload_bpp'], 8, 4)} "
            f"{_f(m['webp_file_bpp'], 8, 4)} {_f(m['webp_payload_bpp'], 8, 4)} "
            f"{_f(m['jpeg_file_bpp'] / m['tokens_file_bpp'], 8, 2)} "
            f"{_f(None if pf is None else m['jpeg_file_bpp'] / pf, 10, 2)}"
        )
        if pf is not None:
            won = "met" if pf < m["jpeg_file_bpp"] else "NOT met"
            print(f"{'':10s} goal: prior-coded tokens below JPEG at equal PSNR ({won})")
    if not any("prior_file_bpp" in rows[0] for rows in tables.values()):
        print("(no prior-coded rate: prior_photo_f8 is not shipped yet)")


def curves(x):
    """The codecs as curves over ``x``: mean PSNR and rates per quality."""
    out = []
    for codec in rate.CODECS:
        c = rate.codec_curve(x, codec, CURVE_QUALITIES[codec])
        out.append(c)
        print(
            f"\n{c['label']} over the {len(x)} photos: quality, PSNR dB, bpp file/payload"
        )
        for q, p, f, pay in zip(
            c["quality"], c["psnr_db"], c["file_bpp"], c["payload_bpp"]
        ):
            print(f"  q {q:3d}  {p:6.2f} dB  {f:6.3f}  {pay:6.3f}")
        print(f"  header: {np.mean(c['header_bytes']):.0f} bytes on average")
    return out


def main():
    shipped = [n for n in PHOTO_MODELS if n in pretrained.names()]
    if not shipped:
        print(
            "no photo model is shipped yet: python -m vqlab.train photo_f4 photo_f8 photo_small"
        )
        return
    test_x, test_names = photos.test_source_photos(256)
    tables = {}
    for name, goal in TEST_GOALS_DB.items():
        if name in shipped:
            print(
                f"\n--- test source ({len(test_x)} photos of the corpus' test package, 256x256) ---"
            )
            mean, tables[name] = report(name, pretrained.load(name), test_x, test_names)
            met = "met" if mean >= goal else "NOT met"
            print(
                f"{name} goal: mean PSNR >= {goal} dB on the test source: {mean:.2f} dB ({met})"
            )
    for name in F8_VARIANTS:
        if name in shipped:
            print(f"\n--- test source, {name} (photo_f8's crops and steps) ---")
            _, tables[name] = report(name, pretrained.load(name), test_x, test_names)
    if tables:
        rate_summary(tables)
        test_curves = curves(test_x)
        if "--plot" in sys.argv:
            from vqlab import plots

            path = sys.argv[sys.argv.index("--plot") + 1]
            points = [rate.point(rows, name) for name, rows in tables.items()]
            plots.rate_distortion(test_curves, points).figure.savefig(path)
            print(f"rate-distortion plot: {path}")
    print("\n--- the four held-out sample photos ---")
    means = {n: report(n, pretrained.load(n))[0] for n in shipped}
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
