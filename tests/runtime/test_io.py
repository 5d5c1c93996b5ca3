"""tfmodels.io on the local disk, on ``file://`` URIs and on TensorFlow's ``ram://``."""

import os
import subprocess
import sys
import uuid

import numpy as np
import pytest
import tensorflow as tf

from tfmodels import io


@pytest.fixture(params=["local", "file", "ram"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path)
    if request.param == "file":
        return "file://" + str(tmp_path)
    path = f"ram://io-{uuid.uuid4().hex}"
    tf.io.gfile.makedirs(path)
    return path


def test_atomic_write_and_read(root):
    path = io.join(root, "out.txt")
    with io.atomic_write(path) as f:
        f.write("hello\n")
        assert not io.exists(path)
    assert io.read_text(path) == "hello\n"
    assert io.listdir(root) == ["out.txt"]


def test_atomic_write_failure_keeps_old(root):
    path = io.join(root, "out.txt")
    with io.atomic_write(path) as f:
        f.write("old")
    with pytest.raises(RuntimeError):
        with io.atomic_write(path) as f:
            f.write("new, half")
            raise RuntimeError("killed")
    assert io.read_text(path) == "old"
    assert io.listdir(root) == ["out.txt"]


def test_atomic_path_binary(root):
    path = io.join(root, "a.bin")
    with io.atomic_path(path) as tmp:
        with io.open_file(tmp, "wb") as f:
            f.write(b"\x00\x01")
    with io.open_file(path, "rb") as f:
        assert f.read() == b"\x00\x01"


def test_missing_directory_is_named(root):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with io.atomic_write(io.join(root, "nope", "x.txt")) as f:
            f.write("x")


def test_remove_temporaries(root):
    path = io.join(root, "x.txt")
    left = io.temp_name(path)
    with io.open_file(left, "w") as f:
        f.write("partial")
    with io.open_file(io.join(root, "other.txt"), "w") as f:
        f.write("keep")
    assert io.remove_temporaries(path) == [left]
    assert io.listdir(root) == ["other.txt"]


def test_expand_inputs(root):
    for name in ["b.tfrecord", "a.tfrecord", "c.txt"]:
        with io.open_file(io.join(root, name), "w") as f:
            f.write("x")
    spec = io.join(root, "*.tfrecord") + "," + io.join(root, "c.txt")
    assert io.expand_inputs(spec) == [io.join(root, n) for n in
                                      ["a.tfrecord", "b.tfrecord", "c.txt"]]
    with pytest.raises(FileNotFoundError, match="--input_file: no file matches"):
        io.expand_inputs(io.join(root, "*.none"), "--input_file")


def test_atomic_directory_replaces_previous(tmp_path):
    target = str(tmp_path / "export")
    for value in (1, 2):
        with io.atomic_directory(target) as tmp:
            os.makedirs(tmp)
            np.save(os.path.join(tmp, "v.npy"), np.array(value))
    assert int(np.load(os.path.join(target, "v.npy"))) == 2
    assert sorted(os.listdir(tmp_path)) == ["export"]
    with pytest.raises(RuntimeError):
        with io.atomic_directory(target) as tmp:
            os.makedirs(tmp)
            raise RuntimeError("failed export")
    assert int(np.load(os.path.join(target, "v.npy"))) == 2
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_atomic_directory_on_every_filesystem(root):
    target = io.join(root, "export")
    for value in ("1", "2"):
        with io.atomic_directory(target) as tmp:
            io.makedirs(io.join(tmp, "variables"))
            with io.open_file(io.join(tmp, "variables", "v.txt"), "w") as f:
                f.write(value)
    assert io.read_text(io.join(target, "variables", "v.txt")) == "2"
    assert io.listdir(root) == ["export"]


def test_glob_isfile_and_text_mode(root):
    with io.open_file(io.join(root, "a.txt"), "w") as f:
        f.writelines(["x\u2028 z\n", "y\n"])
    io.makedirs(io.join(root, "d.txt"))
    assert io.glob(io.join(root, "*.txt")) == [io.join(root, "a.txt"), io.join(root, "d.txt")]
    assert io.isfile(io.join(root, "a.txt")) and not io.isfile(io.join(root, "d.txt"))
    with io.open_file(io.join(root, "a.txt")) as f:
        assert list(f) == ["x\u2028 z\n", "y\n"]  # UTF-8; lines end at \n only
    io.remove(io.join(root, "d.txt"))
    assert not io.exists(io.join(root, "d.txt"))


def test_local_paths_do_not_import_tensorflow(tmp_path):
    code = ("import sys; from pipelines.fileio import io; p = sys.argv[1]; "
            "io.makedirs(io.join(p, 'd'));"
            "exec('with io.atomic_write(io.join(p, \"d\", \"x\")) as f: f.write(\"1\")');"
            "assert io.read_text(io.join(p, 'd', 'x')) == '1';"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for path in (str(tmp_path), "file://" + str(tmp_path / "u")):
        subprocess.run([sys.executable, "-c", code, path], check=True, cwd=root)


def test_local_helpers():
    assert io.is_local("/a/b") and io.is_local("file:///a") and not io.is_local("gs://b/x")
    assert io.join("gs://bucket/dir", "f.txt") == "gs://bucket/dir/f.txt"
    assert io.dirname("gs://bucket/dir/f.txt") == "gs://bucket/dir"
    assert io.basename("gs://bucket/dir/f.txt") == "f.txt"


def test_check_output(root):
    io.check_output(io.join(root, "new", "model.npz"), "-s")  # creates the parent
    assert io.listdir(io.join(root, "new")) == []  # the probe is gone
    with pytest.raises(ValueError, match="-s: .* is a directory"):
        io.check_output(io.join(root, "new"), "-s")
    with io.open_file(io.join(root, "file.txt"), "w") as f:
        f.write("x")
    with pytest.raises(ValueError, match="--export: .* exists and is not a directory"):
        io.check_output(io.join(root, "file.txt"), "--export", directory=True)
    io.check_output(io.join(root, "new"), "--export", directory=True)
    with pytest.raises(FileNotFoundError, match="--output_file: directory .* does not exist"):
        io.check_output(io.join(root, "nope", "x"), "--output_file", create_parent=False)
    if io.is_local(root):  # a file where a directory should be: cannot create or write
        with pytest.raises(ValueError, match="-s: cannot"):
            io.check_output(io.join(root, "file.txt", "m.npz"), "-s")
