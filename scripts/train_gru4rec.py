"""Train or load a GRU4Rec model and measure recall and MRR on test set(s).

Same command line as the official ``run.py`` (hidasib/GRU4Rec_PyTorch_Official):

  python scripts/train_gru4rec.py train.tsv -t test.tsv -m 1 5 10 20 \
      -ps loss=cross-entropy,layers=100,batch_size=32,n_sample=2048,logq=1,n_epochs=10 \
      -s model.npz
  python scripts/train_gru4rec.py model.npz -l -t test.tsv -e conservative

Prints the per-epoch loss and events/s and one result line per cut-off,
``Recall@20: 0.xxxxxx MRR@20: 0.xxxxxx``. The argparse interface (positional PATH,
``-t``/``-m`` taking several values) is kept from the original rather than absl flags so
that original commands run unchanged. Additions: ``--export_saved_model DIR``,
``--summary_dir DIR`` (TensorBoard), ``--threads N``. ``-g`` is accepted and ignored
(there is one implementation); model files are ``.npz`` (not the official pickle).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.fileio import io  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train or load a GRU4Rec model & measure recall "
                                "and MRR on the specified test set(s).")
    p.add_argument("path", metavar="PATH", help="training data (TAB separated, header "
                   "SessionId/ItemId/Time) or, with -l, the saved model file")
    p.add_argument("-ps", "--parameter_string", metavar="PARAM_STRING",
                   help="name=value,... e.g. loss=bpr-max,layers=100,constrained_embedding=True")
    p.add_argument("-pf", "--parameter_file", metavar="PARAM_PATH",
                   help="python file defining an OrderedDict named gru4rec_params")
    p.add_argument("-l", "--load_model", action="store_true", help="PATH is a saved model")
    p.add_argument("-s", "--save_model", metavar="MODEL_PATH", help="save the trained model")
    p.add_argument("-t", "--test", metavar="TEST_PATH", nargs="+", help="test file(s)")
    p.add_argument("-m", "--measure", metavar="AT", type=int, nargs="+", default=[20],
                   help="recommendation list length(s) (default: 20)")
    p.add_argument("-e", "--eval_type", metavar="EVAL_TYPE", default="standard",
                   choices=["standard", "conservative", "median"], help="tie handling")
    p.add_argument("-ss", "--sample_store_size", metavar="SS", type=int, default=10000000,
                   help="negative sample store size (default: 10000000)")
    p.add_argument("-g", "--gru4rec_model", metavar="GRFILE", default="gru4rec",
                   help="accepted for compatibility; ignored")
    p.add_argument("-d", "--device", metavar="D", default="cpu",
                   help="cpu, cuda:N or gpu:N (default: cpu)")
    p.add_argument("-ik", "--item_key", metavar="IK", default="ItemId")
    p.add_argument("-sk", "--session_key", metavar="SK", default="SessionId")
    p.add_argument("-tk", "--time_key", metavar="TK", default="Time")
    p.add_argument("-pm", "--primary_metric", metavar="METRIC", default="recall",
                   choices=["recall", "mrr"])
    p.add_argument("-lpm", "--log_primary_metric", action="store_true")
    p.add_argument("--export_saved_model", metavar="DIR",
                   help="also export a serving SavedModel to DIR")
    p.add_argument("--summary_dir", metavar="DIR", help="TensorBoard summaries")
    p.add_argument("--threads", type=int, default=0, help="TF intra/inter-op threads (0: TF)")
    return p


def _load_param_file(path: str) -> dict:
    if not io.isfile(path):
        raise FileNotFoundError(f"-pf/--parameter_file not found: {path}")
    module = types.ModuleType("gru4rec_paramfile")
    module.__file__ = path
    exec(compile(io.read_text(path), path, "exec"), module.__dict__)
    if not hasattr(module, "gru4rec_params"):
        raise ValueError(f"-pf/--parameter_file {path} defines no `gru4rec_params`")
    return dict(module.gru4rec_params)


def _device(name: str, tf) -> str:
    low = name.lower()
    if low == "cpu" or low.startswith("cpu:"):
        return "/CPU:0"
    if low.startswith(("cuda", "gpu")):
        idx = int(low.split(":")[1]) if ":" in low else 0
        gpus = tf.config.list_physical_devices("GPU")
        if idx >= len(gpus):
            raise ValueError(f"-d/--device {name}: no such GPU ({len(gpus)} visible)")
        return f"/GPU:{idx}"
    raise ValueError(f"-d/--device must be cpu, cuda:N or gpu:N, got {name!r}")


def run(args) -> int:
    n_given = (args.parameter_string is not None) + (args.parameter_file is not None) + \
        bool(args.load_model)
    if n_given != 1:
        raise ValueError("exactly one of -ps/--parameter_string, -pf/--parameter_file, "
                         "-l/--load_model must be given")
    for c in args.measure:
        if c < 1:
            raise ValueError(f"-m/--measure cut-offs must be >= 1, got {c}")
    if args.test:
        for t in args.test:
            if not io.isfile(t):
                raise FileNotFoundError(f"-t/--test file not found: {t}")
    if not io.isfile(args.path):
        raise FileNotFoundError(f"PATH not found: {args.path}")
    # Output targets are checked now, not after training.
    if args.save_model and not args.load_model:
        io.check_output(args.save_model, "-s/--save_model")
    if args.export_saved_model:
        io.check_output(args.export_saved_model, "--export_saved_model", directory=True)
    # Validate the parameters before the (slow) TensorFlow import.
    from tfmodels.models.gru4rec.params import GRU4RecParams, parse_param_string

    params = None
    if not args.load_model:
        raw = (parse_param_string(args.parameter_string) if args.parameter_string
               else _load_param_file(args.parameter_file))
        params = GRU4RecParams.from_dict(
            {"sample_store_size": args.sample_store_size, **raw})
        for name, value in params.to_dict().items():
            if name in raw:
                print(f"SET   {name:<24}TO   {value}")

    keys = dict(session_key=args.session_key, item_key=args.item_key, time_key=args.time_key)
    from pipelines.sessions import load_sessions  # numpy only: bad files fail fast

    train = None
    if not args.load_model:
        print(f"Loading training data from TAB separated file: {args.path}")
        train = load_sessions(args.path, **keys)
        print(f"Loaded {train.n_events} events, {train.n_sessions} sessions, "
              f"{train.n_items} items")
    import tensorflow as tf

    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from tfmodels.metrics.recsys import format_results
    from tfmodels.models.gru4rec.checkpoint import load_model, save_model
    from tfmodels.models.gru4rec.evaluation import evaluate
    from tfmodels.models.gru4rec.model import GRU4Rec
    from tfmodels.models.gru4rec.training import fit

    with tf.device(_device(args.device, tf)):
        if args.load_model:
            print(f"Loading trained model from file: {args.path}")
            model = load_model(args.path)
            if model.item_ids is None:
                raise ValueError(f"{args.path}: the model file has no item-id map")
        else:
            model = GRU4Rec(train.n_items, params, item_ids=train.item_ids)
            print("Started training")
            t0 = time.time()
            fit(model, train, summary_dir=args.summary_dir)
            print(f"Total training time: {time.time() - t0:.2f}s")
            if args.save_model:
                print(f"Saving trained model to: {args.save_model}")
                save_model(model, args.save_model)
        if args.export_saved_model:
            from tfmodels.models.gru4rec.serving import export_saved_model

            export_saved_model(model, args.export_saved_model)
            print(f"Exported serving SavedModel to: {args.export_saved_model}")
        for test_file in args.test or []:
            print(f"Loading test data: {test_file}")
            test = load_sessions(test_file, itemidmap=model.item_ids, **keys)
            print(f"Starting evaluation (cut-off={args.measure}, using {args.eval_type} mode "
                  "for tiebreaking)")
            t0 = time.time()
            res = evaluate(model, test, cutoffs=tuple(args.measure), mode=args.eval_type,
                           batch_size=512)
            dt = time.time() - t0
            print(f"Evaluation took {dt:.2f}s ({test.n_predictions / max(dt, 1e-9):.0f} e/s)")
            print(format_results(res))
            if args.log_primary_metric:
                first = res[args.measure[0]]
                print(f"PRIMARY METRIC: {first[0 if args.primary_metric == 'recall' else 1]}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as e:
        print(f"ERROR. {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
