"""Data parallelism: one model mirrored on several devices, each given part of the batch.

``python -m vqlab.train NAME --devices N`` trains under TensorFlow's
``tf.distribute.MirroredStrategy``: every device holds a copy of the weights, takes its
share of each global batch (the recipe's batch size, split N ways), and the gradients
are summed across devices before one optimizer step updates every copy alike.

Keras does the split and the summed update; what a model computes on its share needs
three things to stay the one-device model (up to float noise), and this module holds
them for the models' code:

* ``batch_share(x)``: a device's examples over the global batch's, n_r / n. A mean loss
  weighted by it sums over the devices to the mean over the global batch, so the summed
  gradient is the one-device gradient (uneven or empty shares included).
* ``sum_over_replicas`` and ``gather_over_replicas``: statistics of the global batch
  (the quantizer's code counts, its restart candidates) instead of each device's own, so
  every copy of a non-trainable variable receives the same value.
* ``draw_for_batch``: random numbers for the global batch, of which each device keeps its
  rows; without it every device would draw the same noise for its share.

Why the non-trainable variables (the quantizer's counts and EMA sums, a restarted
codebook, the random generators' states) stay equal on every device: they keep Keras'
default aggregation, ``"none"``, under which an assign inside a step changes the
device's own copy only. Every device assigns the same value, computed from the global
batch's statistics above, so the copies never part (a resumed run's checkpoint, read
from the first device, is every device's state). It is also the one kind of assign
that works inside ``ops.cond``, whose branches may not talk between devices.

On one device, or outside ``strategy.run`` (a chapter's ``model(x)``), each is the
identity and the model's code runs exactly as written; the same on other backends than
TensorFlow.
"""

from __future__ import annotations

import keras
from keras import ops


class DevicesError(ValueError):
    """The devices asked for cannot be had: too many, or not the TensorFlow backend."""


def replica_context():
    """The replica context of a step running on several devices, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()  # None in the cross-replica context
    return ctx if ctx is not None and ctx.num_replicas_in_sync > 1 else None


def sum_over_replicas(x):
    """``x`` summed over the devices of a data-parallel step (``x`` itself on one)."""
    ctx = replica_context()
    return x if ctx is None else ctx.all_reduce("sum", x)


def gather_over_replicas(x):
    """The devices' ``x`` (n_r, ...) stacked in batch order, (n, ...) (``x`` on one)."""
    ctx = replica_context()
    return x if ctx is None else ctx.all_gather(x, axis=0)


def _local_rows(x) -> object:
    import tensorflow as tf

    return tf.shape(tf.nest.flatten(x)[0])[0]


def batch_share(x):
    """This device's share n_r / n of the global batch (``x``: its examples, an array or a
    dict of arrays), float32; None on one device, where no weighting is needed."""
    ctx = replica_context()
    if ctx is None:
        return None
    rows = ops.cast(_local_rows(x), "float32")
    return rows / ops.maximum(ctx.all_reduce("sum", rows), 1.0)


def draw_for_batch(draw, shape):
    """``draw(shape)``, a random tensor whose first axis is the batch, as this device's rows
    of ``draw`` for the global batch: the numbers one device would have drawn."""
    ctx = replica_context()
    if ctx is None:
        return draw(shape)
    import tensorflow as tf

    rows = tf.reshape(tf.cast(shape[0], "int32"), (1,))
    sizes = ctx.all_gather(rows, axis=0)  # (replicas,) rows of each device
    start = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    rest = [tf.cast(s, "int32") for s in shape[1:]]
    full = draw(tf.stack([tf.reduce_sum(sizes)] + rest))  # (n,) + shape[1:]
    return full[start : start + rows[0]]


def strategy(devices: int):
    """A ``tf.distribute.MirroredStrategy`` over ``devices`` devices (None for one): the
    first ``devices`` GPUs, or, on a machine without GPUs, the CPU split into ``devices``
    logical devices (which shows that the model trains the same; it is not faster).

    Splitting the CPU has to happen before TensorFlow starts its runtime, so call this
    first thing in a fresh process (``python -m vqlab.train`` does).
    """
    if not isinstance(devices, int) or devices < 1:
        raise ValueError(f"devices should be a positive integer, got {devices!r}")
    if devices == 1:
        return None
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise DevicesError(
            f"training on {devices} devices uses TensorFlow's MirroredStrategy, so it "
            f"needs Keras' tensorflow backend; this run uses {backend!r} (set "
            f"KERAS_BACKEND=tensorflow, or train on one device)"
        )
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if devices > len(gpus):
            raise DevicesError(
                f"asked for {devices} devices, but TensorFlow sees {len(gpus)} GPU(s) "
                f"on this machine; pass --devices {len(gpus)} or fewer"
            )
        names = [f"/gpu:{i}" for i in range(devices)]
    else:
        cpu = tf.config.list_physical_devices("CPU")[0]
        split = tf.config.get_logical_device_configuration(cpu)
        if split is None or len(split) < devices:
            try:
                tf.config.set_logical_device_configuration(
                    cpu, [tf.config.LogicalDeviceConfiguration()] * devices
                )
            except RuntimeError:
                n = len(tf.config.list_logical_devices("CPU"))
                raise DevicesError(
                    f"asked for {devices} devices on a machine without GPUs, but "
                    f"TensorFlow has started with {n} CPU device(s), and the CPU can be "
                    f"split only before it starts: train in a fresh process "
                    f"(python -m vqlab.train NAME --devices {devices})"
                ) from None
        names = [d.name for d in tf.config.list_logical_devices("CPU")][:devices]
    return tf.distribute.MirroredStrategy(names)


def device_kind() -> str:
    """What the devices are: the first GPU's name, or the CPU."""
    import platform

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return details.get("device_name", "GPU")
    return f"CPU ({platform.machine()})"
