"""Train MaskFormer (TF2 / Keras 3) on the shared trainer: MaskFormer's ``train_net.py``.

As the original, the run is configured by detectron2-style keys: a YAML file
(``--config-file``, nested ``MODEL:``/``SOLVER:``/``INPUT:`` mappings of the keys below)
and ``KEY VALUE`` pairs after the flags (``SOLVER.BASE_LR 0.0001 OUTPUT_DIR out``);
``--eval-only`` evaluates, ``--resume`` resumes from ``OUTPUT_DIR`` (a rerun always resumes
there). Defaults are ``maskformer_R50_bs16_160k.yaml`` (ADE20K-150): AdamW 1e-4, weight
decay 1e-4, backbone multiplier 0.1, poly 0.9, full-model gradient clipping 0.01, crop 512,
scale 0.5–2.0, 16 images per batch, 160k iterations.

Addition (detectron2 registers datasets by name instead): ``DATASETS.FORMAT`` ``semantic``
(``<root>/images`` + ``<root>/semantic`` class-id PNGs, 255 = ignore) or ``panoptic``
(``<root>/panoptic.json`` + ``<root>/panoptic`` PNGs + ``<root>/images``), roots
``DATASETS.TRAIN_ROOT``/``DATASETS.TEST_ROOT``; ``MODEL.RESNETS.LAYERS``/``MODEL.RESNETS.WIDTH``
(small ResNets). Outputs: ``OUTPUT_DIR/model.ckpt-<step>``, ``maskformer_config.json``,
``eval_results.txt`` (mIoU, pACC, PQ/SQ/RQ).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("config-file", "", "YAML config with detectron2-style keys.")
flags.DEFINE_bool("eval-only", False, "Only evaluate (the latest checkpoint of OUTPUT_DIR).")
flags.DEFINE_bool("resume", False, "Resume from OUTPUT_DIR (a rerun resumes anyway).")
flags.DEFINE_integer("num-gpus", 1, "Replicas (mirrored strategy when > 1).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_integer("log_steps", 20, "Progress line every this many steps (detectron2: 20).")
FLAGS = flags.FLAGS

DEFAULTS = {
    "MODEL.BACKBONE.NAME": "build_resnet_backbone", "MODEL.BACKBONE.FREEZE_AT": 0,
    "MODEL.RESNETS.DEPTH": 50,
    "MODEL.RESNETS.NORM": "FrozenBN", "MODEL.RESNETS.LAYERS": "", "MODEL.RESNETS.WIDTH": 64,
    "MODEL.SWIN.EMBED_DIM": 96, "MODEL.SWIN.DEPTHS": "2,2,6,2",
    "MODEL.SWIN.NUM_HEADS": "3,6,12,24", "MODEL.SWIN.WINDOW_SIZE": 7,
    "MODEL.SWIN.DROP_PATH_RATE": 0.3,
    "MODEL.SEM_SEG_HEAD.NUM_CLASSES": 150,
    "MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME": "BasePixelDecoder",
    "MODEL.SEM_SEG_HEAD.CONVS_DIM": 256, "MODEL.SEM_SEG_HEAD.MASK_DIM": 256,
    "MODEL.MASK_FORMER.NUM_OBJECT_QUERIES": 100, "MODEL.MASK_FORMER.HIDDEN_DIM": 256,
    "MODEL.MASK_FORMER.NHEADS": 8, "MODEL.MASK_FORMER.DIM_FEEDFORWARD": 2048,
    "MODEL.MASK_FORMER.ENC_LAYERS": 0, "MODEL.MASK_FORMER.DEC_LAYERS": 6,
    "MODEL.MASK_FORMER.TRANSFORMER_ENC_LAYERS": 6,
    "MODEL.MASK_FORMER.DROPOUT": 0.1, "MODEL.MASK_FORMER.PRE_NORM": False,
    "MODEL.MASK_FORMER.DEEP_SUPERVISION": True, "MODEL.MASK_FORMER.NO_OBJECT_WEIGHT": 0.1,
    "MODEL.MASK_FORMER.DICE_WEIGHT": 1.0, "MODEL.MASK_FORMER.MASK_WEIGHT": 20.0,
    "MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD": 0.8,
    "MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD": 0.8,
    "MODEL.WEIGHTS": "",
    "SOLVER.IMS_PER_BATCH": 16, "SOLVER.BASE_LR": 1e-4, "SOLVER.MAX_ITER": 160000,
    "SOLVER.WEIGHT_DECAY": 1e-4, "SOLVER.BACKBONE_MULTIPLIER": 0.1,
    "SOLVER.POLY_LR_POWER": 0.9, "SOLVER.CLIP_GRADIENTS.CLIP_VALUE": 0.01,
    "SOLVER.CHECKPOINT_PERIOD": 5000,
    "INPUT.CROP.SIZE": 512, "INPUT.MIN_SCALE": 0.5, "INPUT.MAX_SCALE": 2.0,
    "DATASETS.FORMAT": "semantic", "DATASETS.TRAIN_ROOT": "", "DATASETS.TEST_ROOT": "",
    "DATASETS.THING_CLASSES": "", "OUTPUT_DIR": "./output",
}


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _cast(key, value, default):
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if str(value).lower() not in ("true", "false"):
            raise ValueError(f"{key}: expected True/False; got {value!r}")
        return str(value).lower() == "true"
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected {type(default).__name__}; got {value!r}") from None


def load_cfg(config_file, opts):
    import yaml

    cfg = dict(DEFAULTS)
    updates = {}
    if config_file:
        if not io.exists(config_file):
            raise FileNotFoundError(f"--config-file not found: {config_file}")
        updates.update(_flatten(yaml.safe_load(io.read_text(config_file)) or {}))
    if len(opts) % 2:
        raise ValueError(f"options must be KEY VALUE pairs; got {opts}")
    updates.update(dict(zip(opts[::2], opts[1::2])))
    for k, v in updates.items():
        if k not in cfg:
            raise ValueError(f"unknown config key {k} (known: MODEL.*, SOLVER.*, INPUT.*, "
                             "DATASETS.*, OUTPUT_DIR)")
        cfg[k] = _cast(k, v, DEFAULTS[k])
    return cfg


def _ints(key, text):
    try:
        return tuple(int(v) for v in str(text).split(",") if v != "")
    except ValueError:
        raise ValueError(f"{key}: expected comma-separated integers; got {text!r}") from None


def model_config(cfg):
    from tfmodels.models.maskformer import MaskFormerConfig

    name = cfg["MODEL.BACKBONE.NAME"]
    if name not in ("build_resnet_backbone", "D2SwinTransformer"):
        raise ValueError(f"MODEL.BACKBONE.NAME: build_resnet_backbone or D2SwinTransformer; "
                         f"got {name}")
    norm = {"FrozenBN": "frozen", "BN": "batch", "SyncBN": "batch"}.get(cfg["MODEL.RESNETS.NORM"])
    if norm is None:
        raise ValueError(f"MODEL.RESNETS.NORM: FrozenBN, BN or SyncBN; got "
                         f"{cfg['MODEL.RESNETS.NORM']}")
    mf = "MODEL.MASK_FORMER."
    return MaskFormerConfig(
        num_classes=cfg["MODEL.SEM_SEG_HEAD.NUM_CLASSES"],
        backbone="swin" if name == "D2SwinTransformer" else f"resnet{cfg['MODEL.RESNETS.DEPTH']}",
        backbone_layers=_ints("MODEL.RESNETS.LAYERS", cfg["MODEL.RESNETS.LAYERS"]) or None,
        backbone_width=cfg["MODEL.RESNETS.WIDTH"], backbone_norm=norm,
        # detectron2 FREEZE_AT: 0 nothing, 1 the stem, 2 stem + res2, ...
        frozen_stages=cfg["MODEL.BACKBONE.FREEZE_AT"] - 1,
        swin_embed_dim=cfg["MODEL.SWIN.EMBED_DIM"],
        swin_depths=_ints("MODEL.SWIN.DEPTHS", cfg["MODEL.SWIN.DEPTHS"]),
        swin_num_heads=_ints("MODEL.SWIN.NUM_HEADS", cfg["MODEL.SWIN.NUM_HEADS"]),
        swin_window_size=cfg["MODEL.SWIN.WINDOW_SIZE"],
        swin_drop_path_rate=cfg["MODEL.SWIN.DROP_PATH_RATE"],
        pixel_decoder=cfg["MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME"],
        conv_dim=cfg["MODEL.SEM_SEG_HEAD.CONVS_DIM"], mask_dim=cfg["MODEL.SEM_SEG_HEAD.MASK_DIM"],
        transformer_enc_layers=cfg[f"{mf}TRANSFORMER_ENC_LAYERS"],
        hidden_dim=cfg[f"{mf}HIDDEN_DIM"], num_queries=cfg[f"{mf}NUM_OBJECT_QUERIES"],
        nheads=cfg[f"{mf}NHEADS"], dim_feedforward=cfg[f"{mf}DIM_FEEDFORWARD"],
        enc_layers=cfg[f"{mf}ENC_LAYERS"], dec_layers=cfg[f"{mf}DEC_LAYERS"],
        pre_norm=cfg[f"{mf}PRE_NORM"], deep_supervision=cfg[f"{mf}DEEP_SUPERVISION"],
        dropout=cfg[f"{mf}DROPOUT"])


def open_dataset(cfg, root_key):
    from pipelines import segmentation as P

    root = cfg[root_key]
    if not root:
        raise ValueError(f"{root_key} is required")
    n = cfg["MODEL.SEM_SEG_HEAD.NUM_CLASSES"]
    if cfg["DATASETS.FORMAT"] == "semantic":
        return P.SemanticSegmentation(io.join(root, "images"), io.join(root, "semantic"), n)
    if cfg["DATASETS.FORMAT"] == "panoptic":
        return P.CocoPanoptic(io.join(root, "panoptic.json"), io.join(root, "images"),
                              io.join(root, "panoptic"), n)
    raise ValueError(f"DATASETS.FORMAT: semantic or panoptic; got {cfg['DATASETS.FORMAT']}")


def is_thing_list(cfg, dataset):
    n = cfg["MODEL.SEM_SEG_HEAD.NUM_CLASSES"]
    if cfg["DATASETS.THING_CLASSES"]:
        things = set(_ints("DATASETS.THING_CLASSES", cfg["DATASETS.THING_CLASSES"]))
        return [c in things for c in range(n)]
    known = getattr(dataset, "is_thing", {})
    return [bool(known.get(c, True)) for c in range(n)]


CONFIG_FILE = "maskformer_config.json"


def evaluate(cfg, model):
    from pipelines import segmentation as P
    from tfmodels.models.maskformer.evaluation import evaluate as run
    from tfmodels.training import EVAL_RESULTS, write_eval_results

    val = open_dataset(cfg, "DATASETS.TEST_ROOT")
    panoptic = cfg["DATASETS.FORMAT"] == "panoptic"
    result = run(model, P.make_dataset(val, 1, train=False), cfg[
        "MODEL.SEM_SEG_HEAD.NUM_CLASSES"], is_thing_list(cfg, val), panoptic,
        cfg["MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD"],
        cfg["MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD"])
    io.makedirs(cfg["OUTPUT_DIR"])
    write_eval_results(io.join(cfg["OUTPUT_DIR"], EVAL_RESULTS), result)
    print("***** Eval results *****")
    for k, v in result.items():
        print(f"  {k} = {v:.2f}", flush=True)
    return result


def main_impl(opts):
    import keras

    from pipelines import segmentation as P
    from tfmodels import training
    from tfmodels.models.maskformer import MaskFormer
    from tfmodels.models.maskformer.criterion import HungarianMatcher, SetCriterion
    from tfmodels.models.maskformer.training import make_checkpoint, make_loss_fn, make_optimizer
    from tfmodels.models.maskformer.weights import load_maskformer

    cfg = load_cfg(FLAGS["config-file"].value, opts)
    keras.utils.set_random_seed(FLAGS.seed)
    config = model_config(cfg)
    out = cfg["OUTPUT_DIR"]
    io.makedirs(out)
    config.to_json_file(io.join(out, CONFIG_FILE))
    strategy = training.make_strategy("mirrored" if FLAGS["num-gpus"].value > 1 else "one_device")
    with strategy.scope():
        model = MaskFormer(config)
        model.build()
        optimizer = make_optimizer(cfg["SOLVER.BASE_LR"], cfg["SOLVER.WEIGHT_DECAY"],
                                   cfg["SOLVER.BACKBONE_MULTIPLIER"], cfg["SOLVER.MAX_ITER"],
                                   cfg["SOLVER.POLY_LR_POWER"])
    mf = "MODEL.MASK_FORMER."
    criterion = SetCriterion(
        config.num_classes, HungarianMatcher(1.0, cfg[f"{mf}MASK_WEIGHT"], cfg[f"{mf}DICE_WEIGHT"]),
        eos_coef=cfg[f"{mf}NO_OBJECT_WEIGHT"], mask_weight=cfg[f"{mf}MASK_WEIGHT"],
        dice_weight=cfg[f"{mf}DICE_WEIGHT"], deep_supervision=config.deep_supervision)
    batch = cfg["SOLVER.IMS_PER_BATCH"]
    trainer = training.Trainer(
        model, optimizer, make_loss_fn(criterion), strategy=strategy, output_dir=out,
        checkpoint=make_checkpoint(model, optimizer), global_batch_size=batch,
        log_steps=FLAGS.log_steps, steps_per_loop=1,
        save_checkpoints_steps=cfg["SOLVER.CHECKPOINT_PERIOD"],
        clip_norm=cfg["SOLVER.CLIP_GRADIENTS.CLIP_VALUE"] or None)
    if trainer.restore() is None and cfg["MODEL.WEIGHTS"]:
        init, report = load_maskformer(cfg["MODEL.WEIGHTS"], config=config, strict=False,
                                       return_report=True)
        for mine, theirs in zip(model.weights, init.weights):
            mine.assign(theirs)
        print(f"Initialised from {cfg['MODEL.WEIGHTS']}: {report}", flush=True)
    if not FLAGS["eval-only"].value:
        train_set = open_dataset(cfg, "DATASETS.TRAIN_ROOT")
        data = P.make_dataset(train_set, batch, train=True, crop_size=cfg["INPUT.CROP.SIZE"],
                              shuffle=True, seed=FLAGS.seed, repeat=True,
                              min_scale=cfg["INPUT.MIN_SCALE"], max_scale=cfg["INPUT.MAX_SCALE"])
        print(f"Start training: {len(train_set)} images, {cfg['SOLVER.MAX_ITER']} iterations",
              flush=True)
        trainer.train(data, cfg["SOLVER.MAX_ITER"])
    if cfg["DATASETS.TEST_ROOT"]:
        return evaluate(cfg, model)
    return None


def main(argv):
    try:
        main_impl(list(argv[1:]))
    except (ValueError, FileNotFoundError) as e:
        print(f"train_maskformer.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
