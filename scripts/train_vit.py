"""Fine-tune a ViT on an image-classification dataset (google-research/vision_transformer).

    python scripts/train_vit.py --workdir=/tmp/vit --model_name=ViT-B_16 \
        --pretrained=ViT-B_16.npz --dataset=/data/flowers --image_size=384 \
        --total_steps=10000 --warmup_steps=500 --base_lr=0.03 --batch=512 \
        [--accum_steps=8] [--strategy=mirrored] [--use_xla] [--use_mixed_precision] \
        [--export_dir=/tmp/vit/export]

The flags are the fields of the original ``vit_jax/configs/common.py`` config
(``--config.base_lr`` etc. become ``--base_lr``; ``pp.crop`` is ``--image_size``;
``pretrained_dir/model_name.npz`` is ``--pretrained``) with the original defaults.
``--dataset`` is a directory ``{train,test}/{class_name}/{image}`` or a prepared
tensorflow-datasets name. Training follows ``train.py``: SGD momentum 0.9, warmup then
cosine (or linear) decay, global-norm clipping, gradient accumulation, evaluation on the
test split every ``--eval_every`` steps ("Step: N, Learning rate: X, Test accuracy: Y").
Runs on the shared trainer (checkpoints in ``workdir``, resumed after a kill;
TensorBoard events). At the end it writes ``eval_results.txt`` (final test accuracy),
``model.npz`` (original names) with its ``config.json`` (``predict_vit.py
--model_config``) and, when asked, a
SavedModel mapping encoded images to class probabilities.

Additions: ``--pretrained`` may be empty (train from scratch); ``--train_augment=none``
turns off the inception crop and flip (small images such as the digits demo);
``--model_overrides`` sets ViTConfig fields (``hidden_size=64,num_layers=2``).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_string("workdir", None, "Checkpoints, TensorBoard events and results.")
flags.DEFINE_string("model_name", "ViT-B_16", "Model configuration (ViT-B_16, ...).")
flags.DEFINE_string("pretrained", None, "Original .npz or HF .safetensors to start from.")
flags.DEFINE_string("model_overrides", "", "ViTConfig fields, e.g. hidden_size=64,num_layers=2")
flags.DEFINE_string("dataset", None, "Directory {train,test}/{class}/{image} or a tfds name.")
flags.DEFINE_string("train_split", "train", "Training split (tfds: e.g. train[:98%]).")
flags.DEFINE_string("test_split", "test", "Evaluation split.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_integer("image_size", 384, "Crop size (pp.crop).")
flags.DEFINE_enum("train_augment", "inception", ["inception", "none"],
                  "inception: random resized crop + flip (the original); none: resize.")
flags.DEFINE_integer("total_steps", 10_000, "Number of training steps.")
flags.DEFINE_integer("warmup_steps", 500, "Linear warmup steps.")
flags.DEFINE_float("base_lr", 0.03, "Base learning rate.")
flags.DEFINE_enum("decay_type", "cosine", ["cosine", "linear"], "Learning-rate decay.")
flags.DEFINE_float("grad_norm_clip", 1.0, "Global-norm gradient clip (0: none).")
flags.DEFINE_integer("accum_steps", 8, "Micro-batches per batch (gradient accumulation).")
flags.DEFINE_integer("batch", 512, "Global training batch size.")
flags.DEFINE_integer("batch_eval", 512, "Global evaluation batch size.")
flags.DEFINE_integer("shuffle_buffer", 50_000, "Shuffle buffer size.")
flags.DEFINE_integer("eval_every", 100, "Evaluate on the test split every N steps.")
flags.DEFINE_integer("progress_every", 10, "Progress line every N steps.")
flags.DEFINE_integer("checkpoint_every", 1_000, "Checkpoint every N steps.")
flags.DEFINE_enum("strategy", "one_device", ["one_device", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy.")
flags.DEFINE_bool("use_xla", False, "XLA-compile the training step (jit_compile).")
flags.DEFINE_bool("use_mixed_precision", False, "bfloat16 (CPU/TPU) or float16 (GPU) compute.")
flags.DEFINE_integer("seed", 0, "Random seed (initialisation, shuffling, augmentation).")
flags.DEFINE_string("export_dir", None, "Write a serving SavedModel here at the end.")

FLAGS = flags.FLAGS


def _overrides(text):
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--model_overrides: expected field=value, got {item!r}")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        out[key.strip()] = value
    return out


def run():
    import keras

    from pipelines.images import get_data
    from tfmodels import io, training
    from tfmodels.models.vit import VisionTransformer, get_config, load_vit, save_npz
    from tfmodels.models.vit.serving import export_saved_model
    from tfmodels.models.vit.training import classification_loss, make_optimizer

    for name in ("workdir", "dataset"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if FLAGS.batch % FLAGS.accum_steps:
        raise ValueError(f"--batch {FLAGS.batch} is not a multiple of --accum_steps "
                         f"{FLAGS.accum_steps}")
    strategy = training.make_strategy(FLAGS.strategy)
    training.set_mixed_precision(FLAGS.use_mixed_precision)
    keras.utils.set_random_seed(FLAGS.seed)
    io.makedirs(FLAGS.workdir)
    ds_train, info = get_data(FLAGS.dataset, FLAGS.train_split, "train", FLAGS.batch,
                              FLAGS.image_size, FLAGS.shuffle_buffer, seed=FLAGS.seed,
                              data_dir=FLAGS.tfds_data_dir,
                              augment=FLAGS.train_augment == "inception")
    ds_test, test_info = get_data(FLAGS.dataset, FLAGS.test_split, "test", FLAGS.batch_eval,
                                  FLAGS.image_size, data_dir=FLAGS.tfds_data_dir)
    classes = info["num_classes"]
    print(f"Dataset {FLAGS.dataset}: {info['num_examples']} training and "
          f"{test_info['num_examples']} test images, {classes} classes", flush=True)
    overrides = _overrides(FLAGS.model_overrides)
    with strategy.scope():
        if FLAGS.pretrained:
            try:
                model = load_vit(FLAGS.pretrained, FLAGS.model_name, num_classes=classes,
                                 image_size=FLAGS.image_size, **overrides)
            except (ValueError, FileNotFoundError) as e:
                raise type(e)(f"--pretrained: {e}") from None
            print(f"Loaded {FLAGS.pretrained}: {model.load_report.summary()}", flush=True)
        else:
            model = VisionTransformer(get_config(FLAGS.model_name, num_classes=classes,
                                                 image_size=FLAGS.image_size, **overrides))
            model.build()
        optimizer = training.loss_scaled(make_optimizer(
            FLAGS.total_steps, FLAGS.base_lr, FLAGS.decay_type, FLAGS.warmup_steps))
    trainer = training.Trainer(
        model, optimizer, classification_loss, strategy=strategy, output_dir=FLAGS.workdir,
        global_batch_size=FLAGS.batch, gradient_accumulation_steps=FLAGS.accum_steps,
        jit_compile=FLAGS.use_xla, steps_per_loop=FLAGS.progress_every,
        log_steps=FLAGS.progress_every, save_checkpoints_steps=FLAGS.checkpoint_every,
        clip_norm=FLAGS.grad_norm_clip or None)
    trainer.restore()
    eval_steps = -(-test_info["num_examples"] // FLAGS.batch_eval)
    result = {}
    while trainer.step < FLAGS.total_steps:
        target = min(FLAGS.total_steps,
                      (trainer.step // FLAGS.eval_every + 1) * FLAGS.eval_every)
        trainer.train(ds_train, target)
        result = trainer.evaluate(ds_test, eval_steps)
        print(f"Step: {trainer.step}, Learning rate: {trainer.learning_rate():.7f}, "
              f"Test accuracy: {result['accuracy']:0.5f}", flush=True)
    if not result:
        result = trainer.evaluate(ds_test, eval_steps)
    trainer.write_eval_results(result)
    save_npz(model, io.join(FLAGS.workdir, "model.npz"))
    model.config.to_json_file(io.join(FLAGS.workdir, "config.json"))
    print(f"Final test accuracy: {result['accuracy']:0.5f} "
          f"({test_info['num_examples']} images); wrote "
          f"{io.join(FLAGS.workdir, 'eval_results.txt')} and "
          f"{io.join(FLAGS.workdir, 'model.npz')}", flush=True)
    if FLAGS.export_dir:
        if FLAGS.use_mixed_precision:  # export a float32 serving graph
            keras.mixed_precision.set_global_policy("float32")
            exported = VisionTransformer(model.config)
            exported.build()
            exported.set_weights(model.get_weights())
            model = exported
        export_saved_model(model, FLAGS.export_dir)
        print(f"Exported SavedModel to {FLAGS.export_dir}", flush=True)


def main(argv):
    if len(argv) > 1:
        print(f"train_vit.py: error: unexpected arguments {argv[1:]}", file=sys.stderr)
        sys.exit(2)
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        print(f"train_vit.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
