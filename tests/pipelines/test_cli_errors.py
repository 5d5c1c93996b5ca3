"""flag_message: library errors name the argument, scripts show the flag."""

from pipelines.cli_errors import flag_message
from pipelines.pretraining_instances import InstanceOptions


def test_arguments_become_flags():
    e = ValueError("max_predictions_per_seq=30 is larger than max_seq_length=16.")
    assert flag_message(e, "max_seq_length", "max_predictions_per_seq") == (
        "--max_predictions_per_seq=30 is larger than --max_seq_length=16.")
    e = FileNotFoundError("input_files: /data/input_files:x/a.txt does not exist")
    assert flag_message(e, input_files="input_file") == (
        "--input_file: /data/input_files:x/a.txt does not exist")  # the path is untouched
    # already a flag, or a longer name, or not followed by = or :, stays as it is
    e = ValueError("--num_workers=0; my_num_workers=1; num_workers is fine")
    assert flag_message(e, "num_workers") == str(e)
    assert flag_message(KeyError("token"), "token") == "token"


def test_instance_options_name_their_arguments():
    try:
        InstanceOptions(max_seq_length=16, max_predictions_per_seq=20).validate()
    except ValueError as e:
        assert str(e).startswith("max_predictions_per_seq=20 is larger than max_seq_length=16")
        assert flag_message(e, "max_seq_length", "max_predictions_per_seq").startswith(
            "--max_predictions_per_seq=20 is larger than --max_seq_length=16")
    else:
        raise AssertionError("validate() accepted max_predictions_per_seq > max_seq_length")
