"""BERT finetuning runner with a BERT encoder from a (local) TF Hub-style SavedModel.

Mirrors google-research/bert ``run_classifier_with_tfhub.py``: the run_classifier flags
plus ``--bert_hub_module_handle``; the encoder, its vocabulary and casing come from the
module (``tokenization_info``), the head, optimizer, schedule and outputs are
run_classifier's (``eval_results.txt``, ``test_results.tsv``, checkpoints in
``output_dir``). Hubs cannot be reached from here, so the handle is a SavedModel directory
written by ``scripts/export_savedmodel.py --task=encoder`` (the TF Hub BERT encoder
interface: ``input_word_ids``, ``input_mask``, ``input_type_ids`` -> ``pooled_output``,
``sequence_output``); its variables are fine-tuned in place (``trainable=True``).
``--bert_config_file``, ``--vocab_file`` and ``--init_checkpoint`` are not used.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run_classifier  # noqa: E402  (defines the run_classifier flags, as the original)

flags.DEFINE_string("bert_hub_module_handle", None,
                    "Handle for the BERT TF-Hub module: here a SavedModel directory exported "
                    "with scripts/export_savedmodel.py --task=encoder.")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        if not FLAGS.bert_hub_module_handle:
            raise ValueError("--bert_hub_module_handle is required")
        run_classifier.main_impl(hub_handle=FLAGS.bert_hub_module_handle)
    except (ValueError, FileNotFoundError) as e:
        print(f"run_classifier_with_tfhub.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
