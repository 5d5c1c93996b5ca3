"""A SavedModel client that never imports tfmodels (run as a separate process).

    python serving_client.py EXPORT_DIR REQUESTS.json OUTPUT.json

REQUESTS.json maps a signature name to its inputs ({input name: list of strings or an int
matrix}); OUTPUT.json receives, per signature, every output as nested lists, plus
"loaded_libraries" (shared objects of this process whose path mentions tfmodels or
layer_norm: must stay empty) and "tfmodels_imported".
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tensorflow-text ops)


def main(export_dir, requests_path, output_path):
    with open(requests_path) as f:
        requests = json.load(f)
    loaded = tf.saved_model.load(export_dir)
    result = {}
    for signature, inputs in requests.items():
        fn = loaded.signatures[signature]
        kwargs = {}
        for name, value in inputs.items():
            dtype = tf.string if value and isinstance(value[0], str) else tf.int32
            kwargs[name] = tf.constant(value, dtype)
        result[signature] = {k: v.numpy().tolist() for k, v in fn(**kwargs).items()}
    with open("/proc/self/maps") as f:
        result["loaded_libraries"] = sorted({line.split()[-1] for line in f
                                             if "tfmodels" in line or "layer_norm" in line})
    result["tfmodels_imported"] = any(m.startswith("tfmodels") for m in sys.modules)
    with open(output_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
