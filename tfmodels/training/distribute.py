"""Strategy selection and chief detection for the training scripts.

The original scripts ran under ``TPUEstimator`` (``--use_tpu``) or on one device; the
TF2 programs choose a ``tf.distribute`` strategy by name. ``multi_worker`` reads the
cluster from ``TF_CONFIG`` like every TensorFlow multi-worker program.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")


def make_strategy(name="one_device", tpu=None, tpu_zone=None, gcp_project=None):
    """Returns the ``tf.distribute`` strategy named ``name``.

    Args:
      name: ``one_device`` (the first GPU, else the CPU), ``mirrored`` (all local
        GPUs), ``multi_worker`` (``MultiWorkerMirroredStrategy`` over the ``TF_CONFIG``
        cluster) or ``tpu`` (``TPUStrategy`` on ``tpu``, a name or grpc address).
      tpu, tpu_zone, gcp_project: the TPU cluster resolver's arguments.

    ``multi_worker`` must be created before any other TensorFlow op runs in the
    process; call this first.
    """
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu or "", zone=tpu_zone, project=gcp_project)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy multi_worker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def task_info():
    """``(is_chief, task_name)`` from ``TF_CONFIG``; the chief when there is none.

    The chief is the ``chief`` task, or worker 0 when the cluster has no ``chief``
    (``MultiWorkerMirroredStrategy``'s rule). ``task_name`` is ``<type>_<index>``.
    """
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return is_chief, f"{kind}_{index}"
