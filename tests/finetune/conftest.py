"""Session fixtures of the fine-tuning tests: one tiny run_classifier run (from a saved
random encoder) and one run_squad run, shared by the script, export and hub tests."""

from __future__ import annotations

import json

import pytest

from tests.finetune.fixtures import (
    run_script,
    synthetic_squad,
    write_bert_config,
    write_separable_sst2,
    write_vocab,
)


@pytest.fixture(scope="session")
def clf_run(tmp_path_factory):
    """run_classifier --do_train --do_eval --do_predict on a separable SST-2 task, from a
    random tiny encoder saved as an original TF1 checkpoint (init/bert_model.ckpt)."""
    import keras

    from tfmodels.models.bert import BertConfig, BertModel, save_tf1_checkpoint

    d = tmp_path_factory.mktemp("clf")
    data = d / "data"
    train, dev, test = write_separable_sst2(data)
    config_file = write_bert_config(d)
    keras.utils.set_random_seed(7)
    encoder = BertModel(BertConfig.from_json_file(config_file))
    encoder.build()
    (d / "init").mkdir()
    init = save_tf1_checkpoint(str(d / "init" / "bert_model.ckpt"), encoder)
    # lr 2e-3 for 5 epochs learns the task from this random encoder under every seed tried
    # (3e-3 for 3 epochs sometimes stays at chance).
    task = [f"--data_dir={data}", "--task_name=sst2", "--max_seq_length=16",
            "--train_batch_size=16", "--learning_rate=2e-3", "--num_train_epochs=5",
            "--log_steps=16", "--eval_batch_size=8", "--predict_batch_size=8",
            "--do_train", "--do_eval", "--do_predict"]
    model = [f"--vocab_file={write_vocab(d)}", f"--bert_config_file={config_file}"]
    proc = run_script("run_classifier", *model, *task, f"--init_checkpoint={init}",
                      f"--output_dir={d / 'out'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"dir": d, "out": d / "out", "init": init, "task": task, "model": model,
            "proc": proc, "train": train, "dev": dev, "test": test,
            "vocab": d / "vocab.txt", "config": config_file}


@pytest.fixture(scope="session")
def squad_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("squad")
    (d / "train.json").write_text(json.dumps(synthetic_squad(160, 1)))
    (d / "dev.json").write_text(json.dumps(synthetic_squad(24, 2)))
    common = [f"--vocab_file={write_vocab(d)}", f"--bert_config_file={write_bert_config(d)}",
              "--max_seq_length=24", "--doc_stride=8", "--max_query_length=4",
              "--predict_batch_size=8"]
    proc = run_script("run_squad", *common, f"--output_dir={d / 'out'}",
                      f"--train_file={d / 'train.json'}", f"--predict_file={d / 'dev.json'}",
                      "--do_train", "--do_predict", "--train_batch_size=16",
                      "--learning_rate=3e-3", "--num_train_epochs=4", "--log_steps=20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return d, common, proc
