"""vqlab.web: what the HTML book's live widgets are exported as (the page side is checked in
headless Chromium by tests/test_browser.py)."""

import base64

import keras
import numpy as np
import pytest
from keras import layers

from vqlab import web


def unpack(packed: str) -> np.ndarray:
    kind, data = packed[:4], base64.b64decode(packed[4:])
    return np.frombuffer(data, "<f2" if kind == "f16:" else "<f4").astype(np.float32)


def test_f32_is_float16_only_when_exact():
    exact = np.array([0.5, -2.0, 1024.0, 0.0], np.float32)
    assert web._f32(exact).startswith("f16:")
    np.testing.assert_array_equal(unpack(web._f32(exact)), exact)
    inexact = np.array([0.1, 1e-8], np.float32)
    assert web._f32(inexact).startswith("f32:")
    np.testing.assert_array_equal(unpack(web._f32(inexact)), inexact)


def test_decoder_spec_layers_and_kernel_layout():
    dec = keras.Sequential(
        [
            keras.Input((2,)),
            layers.Dense(4 * 4 * 3, activation="relu"),
            layers.Reshape((4, 4, 3)),
            layers.Conv2DTranspose(5, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ]
    )
    spec = web.decoder_spec(dec)
    assert [s["type"] for s in spec] == [
        "dense",
        "reshape",
        "conv2d_transpose",
        "conv2d",
    ]
    assert [s.get("activation") for s in spec] == ["relu", None, "relu", "sigmoid"]
    kernel = dec.layers[2].get_weights()[
        0
    ]  # Keras: (k, k, out, in); the page reads (k, k, in, out)
    np.testing.assert_array_equal(
        unpack(spec[2]["kernel"]).reshape(3, 3, 3, 5), kernel.transpose(0, 1, 3, 2)
    )
    assert spec[2]["filters"] == 5 and spec[2]["strides"] == 2


@pytest.mark.parametrize(
    "layer", [layers.Conv2D(2, 3, padding="valid"), layers.Dense(3, activation="tanh")]
)
def test_decoder_spec_refuses_what_the_page_cannot_run(layer):
    dec = keras.Sequential(
        [keras.Input((4, 4, 1) if isinstance(layer, layers.Conv2D) else (2,)), layer]
    )
    with pytest.raises(ValueError, match="JavaScript"):
        web.decoder_spec(dec)


def test_live_html_is_hidden_until_its_scripts_run():
    html = web.live_token_editor().data
    assert 'class="vqlab-live"' in html and " hidden" in html
    assert (
        f'src="{web.STATIC}/{web.TOKEN_MODEL}.js"' in html and "vqlab-live.js" in html
    )
