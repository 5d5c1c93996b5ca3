"""run_pretraining.py end to end: outputs, kill -9 and resume, 2-worker
MultiWorkerMirroredStrategy on localhost, bad input."""

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from pipelines import tokenization
from pipelines.pretraining_data import create_pretraining_data
from pipelines.pretraining_instances import InstanceOptions
from tfmodels.optimization import WarmupPolynomialDecay

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "run_pretraining.py")
TINY = {"vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 32, "type_vocab_size": 2, "initializer_range": 0.02}


@pytest.fixture(scope="module")
def data(tmp_path_factory, lee_text, vocab_file):
    d = tmp_path_factory.mktemp("pt")
    record = str(d / "data.tfrecord")
    factory = functools.partial(tokenization.FullTokenizer, vocab_file=vocab_file)
    create_pretraining_data([lee_text], [record], factory,
                            InstanceOptions(max_seq_length=32, max_predictions_per_seq=5,
                                            dupe_factor=1), 12345, progress=False)
    config = str(d / "bert_config.json")
    with open(config, "w") as f:
        json.dump(TINY, f)
    return {"record": record, "config": config, "dir": d}


def _args(data, out, *extra):
    return [sys.executable, SCRIPT, f"--bert_config_file={data['config']}",
            f"--input_file={data['record']}", f"--output_dir={out}", "--max_seq_length=32",
            "--max_predictions_per_seq=5", "--train_batch_size=8", "--eval_batch_size=8",
            "--learning_rate=1e-3", "--num_warmup_steps=2", *extra]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.update(extra)
    return env


def test_train_eval_outputs(data, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(_args(data, out, "--do_train", "--do_eval", "--num_train_steps=6",
                                "--save_checkpoints_steps=3", "--log_steps=3",
                                "--max_eval_steps=2", "--gradient_accumulation_steps=2"),
                          capture_output=True, text=True, timeout=240, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "step 6/6" in proc.stdout
    lines = (out / "eval_results.txt").read_text().splitlines()
    keys = [ln.split(" = ")[0] for ln in lines]
    assert keys == sorted(["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
                           "next_sentence_accuracy", "next_sentence_loss"])
    assert "global_step = 6" in lines
    reader = tf.train.load_checkpoint(str(out / "model.ckpt-6"))
    assert int(reader.get_tensor("global_step")) == 6
    assert reader.get_tensor("bert/encoder/layer_0/attention/self/query/kernel").shape == (16, 16)
    assert (out / "model.ckpt-3.index").exists()
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(out))


def test_kill_and_resume(data, tmp_path):
    out = tmp_path / "run"
    args = _args(data, out, "--do_train", "--num_train_steps=400", "--save_checkpoints_steps=2",
                 "--log_steps=2", "--iterations_per_loop=2")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=_env())
    deadline = time.time() + 180
    state = out / "checkpoint"
    while time.time() < deadline:
        if state.exists() and "model.ckpt-4" in state.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "model.ckpt-4" in state.read_text(), "no checkpoint before the deadline"
    saved = json.dumps(state.read_text())
    last = int(state.read_text().split('model_checkpoint_path: "model.ckpt-')[1].split('"')[0])
    # Resume and stop 2 steps later (num_train_steps is a resume-safe target).
    target = last + 2
    args2 = [a if not a.startswith("--num_train_steps") else f"--num_train_steps={target}"
             for a in args]
    proc = subprocess.run(args2, capture_output=True, text=True, timeout=240, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"at global step {last}" in proc.stdout, (saved, proc.stdout)
    # The first progress line after resuming is step last+5 with the schedule's rate there.
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"step {target}/"))
    lr = float(line.split(" lr ")[1].split()[0])
    expected = float(WarmupPolynomialDecay(1e-3, target, 2)(target - 1))
    assert lr == pytest.approx(expected, rel=1e-2)
    reader = tf.train.load_checkpoint(str(out / f"model.ckpt-{target}"))
    assert int(reader.get_tensor("global_step")) == target


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_multi_worker_mirrored(data, tmp_path):
    out = tmp_path / "run"
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen(
            _args(data, out, "--do_train", "--num_train_steps=3", "--save_checkpoints_steps=3",
                  "--log_steps=3", "--strategy=multi_worker"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=tf_config)))
    results = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stderr[-3000:]
        assert "2 replica(s)" in stdout
    chief = tf.train.load_checkpoint(str(out / "model.ckpt-3"))
    other = tf.train.load_checkpoint(str(out / ".worker_1" / "model.ckpt-3"))
    names = chief.get_variable_to_shape_map()
    assert names == other.get_variable_to_shape_map()
    for name in names:
        np.testing.assert_array_equal(chief.get_tensor(name), other.get_tensor(name), name)
    init = tf.train.load_checkpoint(str(out / "model.ckpt-3"))
    assert int(init.get_tensor("global_step")) == 3


def _error_of(args):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return [ln for ln in proc.stderr.splitlines() if ln.strip()][-1]


def test_bad_inputs(data, tmp_path):
    out = tmp_path / "run"
    assert "max_seq_length" in _error_of(
        [a.replace("--max_seq_length=32", "--max_seq_length=64")
         for a in _args(data, out, "--do_train")])
    small = dict(TINY, vocab_size=1000)
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(small))
    assert "vocab_size" in _error_of(
        [a if not a.startswith("--bert_config_file") else f"--bert_config_file={cfg}"
         for a in _args(data, out, "--do_train")])
    assert "input_file" in _error_of(
        [a if not a.startswith("--input_file") else f"--input_file={tmp_path}/none*.tfrecord"
         for a in _args(data, out, "--do_train")])
    assert "do_train" in _error_of(_args(data, out))
    assert "per-replica batch size 8" in _error_of(
        _args(data, out, "--do_train", "--gradient_accumulation_steps=3"))
    assert "max_predictions_per_seq" in _error_of(
        _args(data, out, "--do_train", "--max_predictions_per_seq=40"))
