"""ipywidgets for the interactive chapters: move a latent point, edit a token grid.

In JupyterLab the sliders redraw the figure; the rendered HTML book shows the widgets
in their first state (there is no kernel behind a static page).
"""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from . import tokens as tk


def latent_explorer(decode, extent: float = 3.0, step: float = 0.1):
    """Two sliders (z1, z2) and the image the decoder makes of that 2-D latent point."""
    def show(z1=0.0, z2=0.0):
        image = np.asarray(decode(np.array([[z1, z2]], np.float32)))[0]
        fig, ax = plt.subplots(figsize=(2.5, 2.5))
        ax.imshow(image.squeeze(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"z = ({z1:.1f}, {z2:.1f})")
        ax.axis("off")
        plt.show()

    slider = dict(min=-extent, max=extent, step=step, value=0.0, continuous_update=False)
    return w.interactive(show, z1=w.FloatSlider(**slider), z2=w.FloatSlider(**slider))


def token_editor(model, grid, background: int):
    """Sliders that shift, rotate and flip one token grid and show what the model decodes.

    ``grid`` is one token grid, (h, w) or a batch of one (1, h, w); ``model.decode`` turns
    token grids (n, h, w) into images (n, H, W, C).
    """
    grid = np.asarray(grid)
    if grid.ndim == 3 and len(grid) == 1:
        grid = grid[0]  # (1, h, w) -> (h, w)
    if grid.ndim != 2:
        raise ValueError(f"token_editor edits one token grid (h, w) or (1, h, w), got shape {grid.shape}")
    h, wd = grid.shape

    def show(dx=0, dy=0, quarter_turns=0, flip_x=False):
        edited = tk.rotate90(tk.shift(grid, dx, dy, fill=background), quarter_turns)
        if flip_x:
            edited = tk.flip(edited, "x")
        fig, axs = plt.subplots(1, 2, figsize=(5, 2.5))
        axs[0].imshow(np.asarray(model.decode(grid[None]))[0].squeeze(), cmap="gray", vmin=0, vmax=1)
        axs[0].set_title("original")
        axs[1].imshow(np.asarray(model.decode(edited[None]))[0].squeeze(), cmap="gray", vmin=0, vmax=1)
        axs[1].set_title("edited tokens")
        for ax in axs:
            ax.axis("off")
        plt.show()

    return w.interactive(show, dx=w.IntSlider(0, -(wd - 1), wd - 1, continuous_update=False),
                         dy=w.IntSlider(0, -(h - 1), h - 1, continuous_update=False),
                         quarter_turns=w.IntSlider(0, 0, 3), flip_x=w.Checkbox(False))
