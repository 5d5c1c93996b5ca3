"""Image input pipeline of google-research/vision_transformer ``vit_jax/input_pipeline.py``.

* Sources: a directory ``{dataset}/{split}/{class_name}/{file}`` (class ids are the
  sorted class-folder names, as ``get_directory_info``) or a tensorflow-datasets name
  whose data is already prepared locally (nothing is downloaded).
* Training (``get_data`` ``_pp`` for ``mode == 'train'``): inception-style random crop by
  ``tf.image.sample_distorted_bounding_box`` (area 5%-100%, default aspect ratios
  3/4-4/3, no minimum object coverage), bilinear resize to the crop size, random
  left-right flip.
* Evaluation: bilinear resize to the crop size.
* Both: pixels scaled to [-1, 1] as ``(x - 127.5) / 127.5``.

Differences: labels are class ids (the original one-hot encodes them for its loss);
evaluation batches keep the remainder (the original drops it, so a test set not a
multiple of the batch size loses examples); images are decoded with their own channel
count and greyscale is repeated to RGB (the original forces 3 channels in the JPEG
decoder); 2- and 4-channel images (alpha) are refused with an error naming the file.
"""

from __future__ import annotations

import tensorflow as tf

from pipelines.fileio import io

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def scale_pixels(image):
    """uint8-range pixels -> float32 in [-1, 1]: ``(x - 127.5) / 127.5``."""
    return (tf.cast(image, tf.float32) - 127.5) / 127.5


def to_rgb(image, name="image"):
    """Greyscale -> RGB; 3 channels unchanged; any other count raises, naming ``name``."""
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels != 3:
        raise ValueError(f"{name} has {channels} channels; expected an RGB or greyscale image")
    return image


def decode_image_file(path):
    """Reads a PNG/JPEG/BMP/GIF file (any gfile path) as a ``[H, W, 3]`` uint8 tensor."""
    if not io.exists(path) or io.isdir(path):
        raise FileNotFoundError(f"image file not found: {path}")
    with io.open_file(path, "rb") as f:
        data = f.read()
    try:
        image = tf.io.decode_image(data, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError) as e:
        raise ValueError(f"{path} is not a PNG/JPEG/BMP/GIF image: "
                         f"{str(e).splitlines()[0]}") from None
    return to_rgb(image, path)


def resize(image, size):
    """Bilinear resize to ``size`` ``(h, w)``, as ``tf.image.resize`` in the original; an
    image already at that size is only cast to float32 (no resampling)."""
    size = tuple(int(s) for s in size)
    if tuple(image.shape[-3:-1]) == size:
        return tf.cast(image, tf.float32)
    return tf.image.resize(image, size)


def preprocess_for_eval(image, size):
    """Resize then scale to [-1, 1] (the original's ``mode == 'test'``)."""
    return scale_pixels(resize(image, size))


def preprocess_for_train(image, size, seed=None):
    """Inception crop + resize + random flip + [-1, 1] (the original's ``mode == 'train'``)."""
    channels = image.shape[-1]
    begin, crop, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([0, 0, 4], tf.float32), area_range=(0.05, 1.0),
        min_object_covered=0, use_image_if_no_bounding_boxes=True, seed=seed)
    image = tf.slice(image, begin, crop)
    image.set_shape([None, None, channels])
    image = tf.image.resize(image, size)
    image = tf.image.random_flip_left_right(image, seed=seed)
    return scale_pixels(image)


def directory_info(directory):
    """``{"files", "labels", "class_names", "num_examples", "num_classes"}`` of a
    ``{class_name}/{file}`` folder (``get_directory_info``: classes sorted by name)."""
    if not io.isdir(directory):
        raise FileNotFoundError(f"dataset directory not found: {directory}")
    class_names = [d.rstrip("/") for d in io.listdir(directory)
                   if io.isdir(io.join(directory, d))]
    if not class_names:
        raise ValueError(f"{directory} has no class sub-folders ({{class_name}}/{{file}})")
    files, labels = [], []
    for label, name in enumerate(class_names):
        folder = io.join(directory, name)
        for f in io.listdir(folder):
            if f.lower().endswith(IMAGE_EXTENSIONS):
                files.append(io.join(folder, f))
                labels.append(label)
    if not files:
        raise ValueError(f"{directory} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return dict(files=files, labels=labels, class_names=class_names,
                num_examples=len(files), num_classes=len(class_names))


def write_class_folders(images, labels, class_names, directory):
    """Writes ``uint8 [N, H, W, C]`` images as PNG files ``{directory}/{class}/{i:05d}.png``
    (the layout :func:`directory_info` reads); each file is written atomically."""
    for name in class_names:
        io.makedirs(io.join(directory, str(name)))
    for i, (image, label) in enumerate(zip(images, labels)):
        path = io.join(directory, str(class_names[int(label)]), f"{i:05d}.png")
        with io.atomic_write(path, "wb") as f:
            f.write(tf.io.encode_png(image).numpy())


def _decode_bytes(data):
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _from_directory(directory):
    info = directory_info(directory)
    data = tf.data.Dataset.from_tensor_slices((info["files"], info["labels"]))
    return data.map(lambda f, y: (tf.io.read_file(f), y)), _decode_bytes, info


def _from_tfds(name, split, data_dir):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError(f"dataset {name!r} is not a directory and tensorflow_datasets is not "
                         "installed") from None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # unknown name: tfds raises its own DatasetNotFoundError
        raise ValueError(f"dataset {name!r} is neither a directory nor a known "
                         f"tensorflow-datasets name: {str(e).splitlines()[0]}") from None
    if not io.exists(builder.data_dir) or not io.exists(io.join(builder.data_dir,
                                                                "dataset_info.json")):
        raise FileNotFoundError(f"tensorflow-datasets {name!r} is not prepared under "
                                f"{builder.data_dir} (nothing is downloaded)")
    data = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()},
                              shuffle_files=False)
    names = builder.info.features["label"].names
    info = dict(class_names=names, num_classes=len(names),
                num_examples=builder.info.splits[split].num_examples)
    return (data.map(lambda d: (d["image"], d["label"])),
            lambda data: to_rgb(builder.info.features["image"].decode_example(data)), info)


def get_dataset_info(dataset, split, data_dir=None):
    """Number of examples and classes of ``dataset``/``split`` (``get_dataset_info``)."""
    return _source(dataset, split, data_dir)[2]


def _source(dataset, split, data_dir):
    directory = io.join(dataset, split)
    if io.isdir(directory):
        return _from_directory(directory)
    return _from_tfds(dataset, split, data_dir)


def get_data(dataset, split, mode, batch_size, image_size, shuffle_buffer=50_000,
             repeats=None, seed=None, data_dir=None, augment=True):
    """``tf.data`` of ``(images [B, h, w, 3] float32 in [-1, 1], labels [B] int32)``.

    Args:
      dataset: a directory holding ``{split}/{class}/{file}`` or a local tfds name.
      split: ``train``/``test`` (directory) or a tfds split such as ``train[:98%]``.
      mode: ``train`` (shuffle, augment, repeat, drop the last partial batch) or ``test``.
      image_size: int or ``(h, w)``: the crop (train) / resize (test) size.
      augment: training crop and flip (the original); False resizes as for evaluation.
    Returns ``(dataset, info)``; ``info`` has ``num_examples``, ``num_classes``,
    ``class_names``.
    """
    if mode not in ("train", "test"):
        raise ValueError(f"mode must be 'train' or 'test'; got {mode!r}")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    data, decoder, info = _source(dataset, split, data_dir)
    train = mode == "train"
    if train:
        data = data.repeat(repeats).shuffle(min(info["num_examples"], shuffle_buffer),
                                            seed=seed)

    def _pp(encoded, label):
        image = decoder(encoded)
        if train and augment:
            image = preprocess_for_train(image, size, seed)
        else:
            image = preprocess_for_eval(image, size)
        return image, tf.cast(label, tf.int32)

    data = data.map(_pp, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.batch(batch_size, drop_remainder=train)
    return data.prefetch(tf.data.AUTOTUNE), info
