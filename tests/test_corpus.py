"""The photo corpus: .deb / rcc / JPEG-stream readers, verified fetching and caching,
the offline message, the test protocol, the training crops and the shipped records.

The tests run on synthetic packages built here, with the network replaced
(``vqlab.corpus._download_to``) or served from a local HTTP server, except one: it
downloads the real test source (an 8 MB package from deb.debian.org) and is skipped,
saying why, when Debian's pool is unreachable.
"""

import contextlib
import hashlib
import http.server
import io
import json
import lzma
import struct
import tarfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqlab import corpus, data


def jpeg_bytes(w, h, seed=0, **kw):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
        buf, "JPEG", **kw
    )
    return buf.getvalue()


def png_bytes(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def ar_archive(members):
    out = [b"!<arch>\n"]
    for name, blob in members:
        header = (
            f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(blob):<10}".encode()
            + b"`\n"
        )
        out += [header, blob, b"\n" if len(blob) % 2 else b""]
    return b"".join(out)


def tar_xz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return lzma.compress(buf.getvalue())


def deb(files, data_name="data.tar.xz"):
    """A minimal .deb: debian-binary, control.tar.xz, an odd-sized extra member,
    data.tar."""
    data = tar_xz(files)
    if data_name == "data.tar":
        data = lzma.decompress(data)
    return ar_archive(
        [
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", tar_xz({"control": b"x"})),
            ("_odd", b"abc"),
            (data_name, data),
        ]
    )


def test_deb_files_reads_the_data_tar_of_a_synthetic_deb(tmp_path):
    files = {"usr/share/a/one.jpg": b"first", "usr/share/b/two.png": b"second" * 999}
    for name in ("data.tar.xz", "data.tar"):
        path = tmp_path / f"p-{name}.deb"
        path.write_bytes(deb(files, name))
        assert corpus.deb_files(path, ["usr/share/b/two.png"]) == {
            "usr/share/b/two.png": b"second" * 999
        }
        assert sorted(corpus.deb_file_list(path)) == sorted(files)
        with pytest.raises(
            ValueError, match="lacks 1 expected file.*usr/share/c/none.jpg"
        ):
            corpus.deb_files(path, ["usr/share/a/one.jpg", "usr/share/c/none.jpg"])


def test_a_file_that_is_not_an_ar_archive_is_refused(tmp_path):
    path = tmp_path / "x.deb"
    path.write_bytes(b"PK\x03\x04 not a deb")
    with pytest.raises(ValueError, match="not an ar archive"):
        corpus.deb_files(path, ["a"])


def eet_like(*jpegs):
    """A container like an Eet .edj: a header, then JPEG streams among other bytes."""
    parts = [b"\x1e\xe7\x0e\x02" + b"\x00" * 40]
    for j in jpegs:
        parts += [b"\xff\xd8\xff\x00 not a jpeg", j, b"\x00\x01data\xff\xd9"]
    return b"".join(parts)


def with_comment(jpeg, text):
    """``jpeg`` with a COM segment right after SOI (a place where FF D9 may appear)."""
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def test_largest_jpeg_stream_is_cut_out_whole():
    small, large = (
        jpeg_bytes(16, 16, 1),
        with_comment(jpeg_bytes(96, 64, 2), b"a\xff\xd9b"),
    )
    progressive = jpeg_bytes(48, 40, 3, progressive=True)
    blob = eet_like(small, large, progressive)
    streams = corpus.jpeg_streams(blob)
    assert sorted(blob[o : o + n] for o, n in streams) == sorted(
        [small, large, progressive]
    )
    assert corpus.largest_jpeg(blob) == large
    assert Image.open(io.BytesIO(corpus.largest_jpeg(blob))).size == (96, 64)
    with pytest.raises(ValueError, match="no decodable JPEG"):
        corpus.largest_jpeg(b"\x00" * 100 + b"\xff\xd8\xff\xe0 truncated")


def rcc(tree):
    """A Qt .rcc (format 2) of ``tree``: {dir: {file: bytes}}; a name ending '.z' is
    stored zlib-compressed (flag 1), as rcc does when it pays."""
    names, data, nodes = bytearray(), bytearray(), []

    def name_offset(name):
        off = len(names)
        names.extend(struct.pack(">HI", len(name), 0) + name.encode("utf-16-be"))
        return off

    # breadth-first: root (index 0), its children, then theirs
    nodes.append(None)
    queue = [(0, "", tree)]
    while queue:
        index, _, children = queue.pop(0)
        first = len(nodes)
        items = sorted(children.items())
        nodes.extend([None] * len(items))
        nodes[index] = ("dir", 0 if index == 0 else nodes[index][1], len(items), first)
        for k, (name, value) in enumerate(items):
            if isinstance(value, dict):
                nodes[first + k] = ("dir", name_offset(name), 0, 0)
                queue.append((first + k, name, value))
            else:
                flags = 0
                payload = value
                if name.endswith(".z"):
                    flags, payload = (
                        1,
                        struct.pack(">I", len(value)) + zlib.compress(value),
                    )
                nodes[first + k] = ("file", name_offset(name), flags, len(data))
                data.extend(struct.pack(">I", len(payload)) + payload)
    tree_bytes = bytearray()
    for kind, noff, a, b in nodes:
        if kind == "dir":
            tree_bytes += struct.pack(">IHII", noff, 2, a, b) + b"\x00" * 8
        else:
            tree_bytes += struct.pack(">IHHHI", noff, a, 0, 0, b) + b"\x00" * 8
    header = 20
    t, d = header, header + len(tree_bytes)
    n = d + len(data)
    return (
        b"qres"
        + struct.pack(">IIII", 2, t, d, n)
        + bytes(tree_bytes)
        + bytes(data)
        + bytes(names)
    )


def test_rcc_files_lists_paths_and_inflates_compressed_entries():
    webp = b"RIFF" + struct.pack("<I", 8) + b"WEBPVP8 "
    blob = rcc(
        {
            "gcompris": {
                "a": {"x.webp": webp, "README.z": b"Files: x.webp\n" * 20},
                "b.txt": b"hi",
            }
        }
    )
    files = corpus.rcc_files(blob)
    assert files == {
        "/gcompris/a/x.webp": webp,
        "/gcompris/a/README.z": b"Files: x.webp\n" * 20,
        "/gcompris/b.txt": b"hi",
    }
    assert corpus.riff_webp_streams(blob) == [(blob.index(webp), len(webp))]
    with pytest.raises(ValueError, match="not a Qt resource"):
        corpus.rcc_files(b"PK" + blob)


# A synthetic corpus: one .deb source (two photos, one in train, one in test) --------


@pytest.fixture
def fake_corpus(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 128, (300, 400, 3), dtype=np.uint8)  # dark: the training photo
    b = rng.integers(128, 256, (260, 200, 3), dtype=np.uint8)  # bright: the test photo
    photo_a, photo_b = png_bytes(a), png_bytes(b)
    package = deb(
        {
            "usr/share/pics/a.png": photo_a,
            "usr/share/pics/b.png": photo_b,
            "usr/share/doc/fake/copyright": b"...",
        }
    )
    src = corpus.Source(
        "fake",
        "1.0",
        "http://deb.example.org/pool/fake_1.0_all.deb",
        hashlib.sha256(package).hexdigest(),
        len(package),
    )

    def record(id_, file, blob, im, split):
        return {
            "id": id_,
            "source": "fake",
            "package": "fake",
            "version": "1.0",
            "file": file,
            "member": None,
            "format": "png",
            "licence": "CC0-1.0",
            "author": "A. Tester",
            "origin": "",
            "width": im.shape[1],
            "height": im.shape[0],
            "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "split": split,
        }

    table = {
        "photos": [
            record("a", "usr/share/pics/a.png", photo_a, a, "train"),
            record("b", "usr/share/pics/b.png", photo_b, b, "test"),
        ],
        "excluded": [],
    }
    monkeypatch.setattr(corpus, "_table", lambda: table)
    monkeypatch.setattr(corpus, "SOURCES", {"fake": src})
    monkeypatch.setenv("VQLAB_DATA", str(tmp_path))
    served = {"blob": package, "calls": 0}

    def fake_download(url, path, deadline_s):
        served["calls"] += 1
        assert url == src.url and deadline_s > 0
        if served["blob"] is None:
            raise OSError("network is unreachable")
        Path(path).write_bytes(served["blob"])
        return path

    monkeypatch.setattr(corpus, "_download_to", fake_download)
    return {
        "src": src,
        "package": package,
        "served": served,
        "a": a,
        "b": b,
        "root": tmp_path,
    }


def cached_files(root):
    return sorted(
        p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file()
    )


def test_fetch_verifies_extracts_and_caches(fake_corpus):
    assert corpus.missing() == ["fake"]
    assert corpus.fetch() == {"fake": 2}
    assert corpus.missing() == []
    assert cached_files(fake_corpus["root"]) == [
        "photos/fake/a.png",
        "photos/fake/b.png",
    ]
    assert (
        corpus.fetch() == {"fake": 0} and fake_corpus["served"]["calls"] == 1
    )  # cached: no download
    (photo,) = corpus.train_photos()
    np.testing.assert_array_equal(photo.array(), fake_corpus["a"])
    assert photo.id == "fake/a" and photo.size == (400, 300)


def test_a_corrupt_download_is_detected_and_nothing_is_cached(fake_corpus):
    bad = bytearray(fake_corpus["package"])
    bad[-100] ^= 0xFF
    fake_corpus["served"]["blob"] = bytes(bad)
    with pytest.raises(
        corpus.CorpusUnavailableError, match="sha256 .* expected .*nothing was cached"
    ):
        corpus.fetch("fake")
    assert (
        cached_files(fake_corpus["root"]) == []
    )  # neither the download nor a photo is kept


def test_a_photo_that_differs_from_its_record_is_not_cached(fake_corpus, monkeypatch):
    table = corpus._table()
    table["photos"][1]["sha256"] = "0" * 64
    with pytest.raises(
        corpus.CorpusUnavailableError, match="usr/share/pics/b.png.*expected 0000"
    ):
        corpus.fetch()
    assert cached_files(fake_corpus["root"]) == []


def test_a_corrupt_cached_photo_is_detected_when_read(fake_corpus):
    corpus.fetch()
    path = fake_corpus["root"] / "photos/fake/a.png"
    blob = bytearray(path.read_bytes())
    blob[200] ^= 0xFF
    path.write_bytes(bytes(blob))
    (photo,) = corpus.train_photos()
    with pytest.raises(ValueError, match="corrupt cache"):
        photo.array()
    assert corpus.fetch() == {"fake": 1}  # fetch repairs it
    np.testing.assert_array_equal(photo.array(), fake_corpus["a"])


def test_offline_message_names_the_missing_sources_urls_and_folder(fake_corpus):
    fake_corpus["served"]["blob"] = None
    with pytest.raises(corpus.CorpusUnavailableError) as err:
        corpus.test_photos()
    message = str(err.value)
    src = fake_corpus["src"]
    assert "lacks 1 source(s): fake" in message
    assert "network is unreachable" in message
    assert src.url in message and src.sha256 in message
    assert str(fake_corpus["root"] / "photos" / "downloads") in message
    with pytest.raises(corpus.CorpusUnavailableError, match="lacks 1 source"):
        corpus.train_photos(fetch_missing=False)
    assert fake_corpus["served"]["calls"] == 1  # fetch_missing=False never downloads


def test_a_package_put_in_the_downloads_folder_is_used_without_network(fake_corpus):
    fake_corpus["served"]["blob"] = None
    corpus.downloads_dir().mkdir(parents=True)
    (corpus.downloads_dir() / fake_corpus["src"].filename).write_bytes(
        fake_corpus["package"]
    )
    assert corpus.fetch() == {"fake": 2}
    assert fake_corpus["served"]["calls"] == 0


def test_unknown_source_names_are_refused(fake_corpus):
    with pytest.raises(ValueError, match="unknown photo source.*'nope'.*known: fake"):
        corpus.fetch("nope")


def test_evaluation_view_resizes_the_short_side_and_crops_the_centre():
    h, w = 200, 300
    ramp = np.broadcast_to(
        np.linspace(0, 255, w).astype(np.uint8)[None, :, None], (h, w, 3)
    ).copy()
    view = corpus.evaluation_view(ramp, 256)
    assert view.shape == (256, 256, 3) and view.dtype == np.uint8
    expected = np.asarray(
        Image.fromarray(ramp).resize((384, 256), Image.Resampling.LANCZOS)
    )[:, 64:320]
    np.testing.assert_array_equal(view, expected)
    assert abs(int(view[128, 128, 0]) - 128) <= 2  # the centre stays the centre
    assert (
        view[:, 0, 0].mean() > 40 and view[:, -1, 0].mean() < 215
    )  # the sides are cut off
    tall = corpus.evaluation_view(np.ascontiguousarray(ramp.transpose(1, 0, 2)), 64)
    assert tall.shape == (64, 64, 3)


def test_test_images_follow_the_protocol(fake_corpus):
    x = corpus.test_images(64)
    assert x.shape == (1, 64, 64, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[0], corpus.evaluation_view(fake_corpus["b"], 64))
    with pytest.raises(ValueError, match="size should be"):
        corpus.test_images(2)


def test_training_crops_are_seeded_resumable_and_come_from_training_photos(fake_corpus):
    c = corpus.training_crops(6, 32, seed=3)
    assert c.shape == (6, 32, 32, 3) and c.dtype == np.uint8
    np.testing.assert_array_equal(c, corpus.training_crops(6, 32, seed=3))
    np.testing.assert_array_equal(c[4:], corpus.training_crops(2, 32, seed=3, start=4))
    assert not np.array_equal(c, corpus.training_crops(6, 32, seed=4))
    # only the (dark) training photo is cut, never the (bright) test photo
    many = corpus.training_crops(200, 16, seed=0).reshape(200, -1).mean(axis=1)
    assert many.max() < 100 and abs(many.mean() - fake_corpus["a"].mean()) < 10
    # at the photo's own scale a crop keeps its pixels' spread; at a small scale it is
    # an average of many pixels (a shrunk view): scale augmentation is real
    own = corpus.training_crops(20, 32, seed=0, short_sides=(300, 300))
    small = corpus.training_crops(20, 32, seed=0, short_sides=(32, 32))
    assert own.std() > 2 * small.std()
    with pytest.raises(ValueError, match="short_sides"):
        corpus.training_crops(1, 64, short_sides=(32, 128))
    by_source = corpus.training_crops(6, 32, 3, balance="source")
    assert by_source.shape == c.shape
    np.testing.assert_array_equal(
        by_source, corpus.training_crops(6, 32, 3, balance="source")
    )
    with pytest.raises(ValueError, match="balance should be"):
        corpus.training_crops(1, 32, balance="area")


def test_fetch_cuts_photos_out_of_edj_and_rcc_containers(fake_corpus):
    jpeg = jpeg_bytes(64, 48, 5)
    webp_buf = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(webp_buf, "WEBP")
    webp = webp_buf.getvalue()
    edj = eet_like(jpeg_bytes(8, 8, 6), jpeg)
    res = rcc({"gcompris": {"act": {"resource": {"p.webp": webp, "README": b"x"}}}})
    package = deb({"usr/share/e/bg.edj": edj, "usr/share/g/act.rcc": res})
    fake_corpus["served"]["blob"] = package
    src = fake_corpus["src"]
    corpus.SOURCES["fake"] = corpus.Source(
        src.name,
        src.version,
        src.url,
        hashlib.sha256(package).hexdigest(),
        len(package),
    )
    table = corpus._table()
    base = dict(table["photos"][0], split="train")
    table["photos"][:] = [
        dict(
            base,
            id="bg",
            file="usr/share/e/bg.edj",
            member="largest JPEG stream",
            format="jpg",
            bytes=len(jpeg),
            sha256=hashlib.sha256(jpeg).hexdigest(),
            width=64,
            height=48,
        ),
        dict(
            base,
            id="p",
            file="usr/share/g/act.rcc",
            member="/gcompris/act/resource/p.webp",
            format="webp",
            bytes=len(webp),
            sha256=hashlib.sha256(webp).hexdigest(),
            width=50,
            height=40,
        ),
    ]
    assert corpus.fetch() == {"fake": 2}
    root = fake_corpus["root"] / "photos" / "fake"
    assert (root / "bg.jpg").read_bytes() == jpeg
    assert (root / "p.webp").read_bytes() == webp
    assert [p.array().shape for p in corpus.train_photos()] == [
        (48, 64, 3),
        (40, 50, 3),
    ]


# The shipped records -----------------------------------------------------------------


def test_records_are_complete_and_the_test_source_is_whole_and_small():
    records = corpus.sources()
    assert len(records) >= 250
    for r in records:
        for key in ("package", "file", "licence", "sha256", "format"):
            assert r[key], (r["id"], key)
        assert r["source"] in corpus.SOURCES
        assert len(r["sha256"]) == 64 and int(r["sha256"], 16) >= 0
        assert r["width"] >= 256 or r["height"] >= 256, r["id"]
        assert r["split"] in ("train", "test", "held_out")
        assert (r["split"] == "test") == (r["source"] == corpus.TEST_SOURCE), r["id"]
        assert r["author"] or r["source"] == "bundled", r["id"]
    ids = [(r["source"], r["id"]) for r in records]
    assert len(ids) == len(set(ids))
    test = [r for r in records if r["split"] == "test"]
    assert len(test) >= 10
    assert corpus.SOURCES[corpus.TEST_SOURCE].size <= 30e6
    for e in corpus.excluded():
        assert e["reason"] and e["source"] in corpus.SOURCES
    # every photo's file in its package is named; no file is both kept and excluded
    kept = {(r["source"], r["file"], r["member"]) for r in records}
    assert not kept & {(e["source"], e["file"], e["member"]) for e in corpus.excluded()}
    assert (
        json.loads(corpus.RECORDS_FILE.read_text())["test_source"] == corpus.TEST_SOURCE
    )


def _debian_reachable():
    """Whether Debian's pool answers a HEAD request for the test source within 5 s."""
    request = urllib.request.Request(
        corpus.SOURCES[corpus.TEST_SOURCE].url, method="HEAD"
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except Exception:
        return False


def test_the_real_test_source_downloads_and_matches_its_records(monkeypatch, tmp_path):
    if not _debian_reachable():
        pytest.skip(
            "deb.debian.org is unreachable: the network test of the test source skipped"
        )
    monkeypatch.setenv("VQLAB_DATA", str(tmp_path))
    assert corpus.fetch(corpus.TEST_SOURCE) == {
        corpus.TEST_SOURCE: len(
            [r for r in corpus.sources() if r["source"] == corpus.TEST_SOURCE]
        )
    }
    for r in corpus.sources():
        if r["source"] == corpus.TEST_SOURCE:
            blob = corpus.photo_path(r).read_bytes()
            assert hashlib.sha256(blob).hexdigest() == r["sha256"]
            assert Image.open(io.BytesIO(blob)).size == (r["width"], r["height"])
    x = corpus.test_images(256)
    assert x.shape == (len(corpus.test_photos()), 256, 256, 3)


# The download helper shared with MNIST, in the mode the corpus uses (into a file) ---


@contextlib.contextmanager
def http_server(body, delay_s=0.0):
    """A local HTTP server sending ``body`` (one byte per ``delay_s`` if > 0)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if not delay_s:
                    self.wfile.write(body)
                for k in range(len(body) if delay_s else 0):
                    if stop.wait(delay_s):
                        return
                    self.wfile.write(body[k : k + 1])
                    self.wfile.flush()
            except OSError:
                pass

        def log_message(self, *args):
            pass

    stop = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/p.deb"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_proxy_for_localhost(monkeypatch):
    """A proxy set in the environment must not stand between urllib and 127.0.0.1."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def test_download_streams_into_a_file(tmp_path, no_proxy_for_localhost):
    blob = np.random.default_rng(0).bytes(3_000_000)
    with http_server(blob) as url:
        got = data._download(url, into=tmp_path / "p.deb")
    assert got == tmp_path / "p.deb" and got.read_bytes() == blob


def test_download_into_a_file_stops_at_its_own_deadline(
    monkeypatch, tmp_path, no_proxy_for_localhost
):
    monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", 5)
    start = time.monotonic()
    with http_server(b"x" * 1000, delay_s=0.1) as url:
        with pytest.raises(TimeoutError, match="within 1.0 s"):
            data._download(url, into=tmp_path / "p", deadline_s=1.0)
    assert time.monotonic() - start < 3.0


# The survey tool's readers of licences (tools/photo_corpus.py) ---------------------


@pytest.fixture(scope="module")
def survey():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "tools" / "photo_corpus.py"
    spec = importlib.util.spec_from_file_location("photo_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2010 Some Team
           2012 Others
License: GPL-2+

Files: 16.04/wine_by_A.jpg
Copyright: A. Person, 2018
License: CC-BY-4.0

Files: Media/* Help/*
Copyright: MIT
License: CC-BY-SA-3.0
 The licence text, indented.
"""


def test_dep5_picks_the_last_matching_paragraph(survey):
    paras = survey.dep5(COPYRIGHT)
    assert [p["license"] for p in paras] == ["GPL-2+", "CC-BY-4.0", "CC-BY-SA-3.0"]
    match = survey.dep5_match
    assert (
        match(paras, "usr/share/backgrounds/wine_by_A.jpg")["copyright"]
        == "A. Person, 2018"
    )
    assert (
        match(paras, "usr/share/scratch/Media/Backgrounds/x.jpg")["license"]
        == "CC-BY-SA-3.0"
    )
    other = match(paras, "usr/share/other.png")
    assert other["license"] == "GPL-2+" and other["holder"] == "2010 Some Team"


def test_readme_credits_reads_each_stanza(survey):
    text = """Copyright: Someone, 2020
License: CC-BY-SA 4.0
Files:
a.svg
b.svg

Copyright: Photographer
Files: c.webp
Source: https://commons.wikimedia.org/wiki/File:C.jpg
License: Public domain
"""
    credits = survey.readme_credits(text)
    assert set(credits) == {"a.svg", "b.svg", "c.webp"}
    assert credits["c.webp"] == {
        "copyright": "Photographer",
        "license": "Public domain",
        "source": "https://commons.wikimedia.org/wiki/File:C.jpg",
    }
    assert credits["a.svg"]["license"] == "CC-BY-SA 4.0"


def test_every_exclusion_of_the_survey_is_in_the_shipped_records(survey):
    def key(e):  # the survey keys GCompris' pictures by their entry in the .rcc
        return e["member"] if e["source"] == "gcompris-qt-data" else e["file"]

    listed = {(e["source"], key(e)) for e in corpus.excluded()}
    for source, table in survey.EXCLUDE.items():
        for key in table:
            assert (source, key) in listed, (source, key)
