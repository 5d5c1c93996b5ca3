"""A SavedModel client that never imports tfmodels (run as a separate process).

    python serving_client.py EXPORT_DIR SIGNATURE INPUTS.json OUTPUT.json

INPUTS.json maps input names to lists (strings or int matrices); OUTPUT.json receives
every output of the signature as nested lists, plus "loaded_libraries": the shared
objects of this process whose name mentions tfmodels (must stay empty).
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tensorflow-text ops)


def main(export_dir, signature, inputs_path, output_path):
    with open(inputs_path) as f:
        inputs = json.load(f)
    loaded = tf.saved_model.load(export_dir)
    fn = loaded.signatures[signature]
    kwargs = {}
    for name, value in inputs.items():
        dtype = tf.string if value and isinstance(value[0], str) else tf.int32
        kwargs[name] = tf.constant(value, dtype)
    outputs = {k: v.numpy().tolist() for k, v in fn(**kwargs).items()}
    with open("/proc/self/maps") as f:
        libraries = sorted({line.split()[-1] for line in f if "tfmodels" in line
                            or "layer_norm" in line})
    outputs["loaded_libraries"] = libraries
    outputs["tfmodels_imported"] = any(m.startswith("tfmodels") for m in sys.modules)
    with open(output_path, "w") as f:
        json.dump(outputs, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
