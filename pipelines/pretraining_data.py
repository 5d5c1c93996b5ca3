"""BERT pre-training data: text files -> TFRecords of masked-LM / next-sentence examples.

The input format and output records are those of google-research/bert
``create_pretraining_data.py``: one sentence per line, a blank line between
documents (a document continues across the end of a file, as in the original), and
``tf.train.Example`` records with ``input_ids``, ``input_mask``, ``segment_ids``,
``masked_lm_positions``, ``masked_lm_ids``, ``masked_lm_weights`` and
``next_sentence_labels``, written round-robin over the output files.

With ``num_workers=1`` the instances and their order are those of the original for
the same seed: documents are shuffled, ``dupe_factor`` passes create the instances,
and all instances are shuffled once more before writing, with the same random calls
in the same order. What differs is how, not what:

* tokenization takes an exact ASCII fast path (see :class:`LineTokenizer`) and
  memoises WordPiece per word;
* instances are serialised at once to compact records (no TensorFlow import; see
  :mod:`pipelines.tfrecord_io`) and spooled to a temporary file past
  ``max_buffer_bytes``, so memory does not grow with ``dupe_factor`` beyond one
  integer per instance for the final shuffle (the original keeps every instance
  as Python objects);
* outputs are written to temporary files and renamed into place at the end.

``num_workers=N > 1`` shards the documents (raw document k goes to worker k % N) over
N processes. Each worker runs the same algorithm on its shard with its own generator
seeded from (seed, worker, N), picking random next sentences within its shard; the
output is deterministic for a given seed and N, but is a different stream from N=1.
"""

from __future__ import annotations

import array
import dataclasses
import mmap
import multiprocessing
import os
import random
import shutil
import struct
import sys
import tempfile
import time

from pipelines import tfrecord_io
from pipelines.pretraining_instances import (
    VocabInfo,
    create_instances_from_document,
)
from pipelines.tokenization import ascii_words

_PRELOADED = {}


def expand_file_patterns(value, flag="input_file"):
    """Comma-separated globs -> sorted files per pattern; a pattern matching nothing
    is an error naming the flag."""
    import glob

    files = []
    for pattern in (value or "").split(","):
        pattern = pattern.strip()
        if not pattern:
            continue
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"--{flag}: no file matches {pattern}")
        files.extend(matches)
    if not files:
        raise FileNotFoundError(f"--{flag} is empty")
    return files


class LineTokenizer:
    """Token ids of a line, identical to ``FullTokenizer.tokenize`` + ``convert_tokens_to_ids``.

    All-ASCII lines are split into words by :func:`pipelines.tokenization.ascii_words`
    (the tokenizer's one fast path); words then go through the original WordPiece,
    memoised with their ids. Other lines use the full tokenizer.
    """

    def __init__(self, full_tokenizer):
        self.full = full_tokenizer
        self.vocab = full_tokenizer.vocab
        self.do_lower_case = full_tokenizer.do_lower_case
        self._word_ids = {}
        self._wordpiece = full_tokenizer.wordpiece_tokenizer.tokenize_word

    def _ids_of_word(self, word):
        ids = self._word_ids.get(word)
        if ids is None:
            vocab = self.vocab
            ids = [vocab[p] for p in self._wordpiece(word)]
            self._word_ids[word] = ids
        return ids

    def ids(self, line):
        words = ascii_words(line, self.do_lower_case)
        if words is not None:
            out = []
            cache = self._word_ids
            for word in words:
                ids = cache.get(word)
                if ids is None:
                    ids = self._ids_of_word(word)
                out.extend(ids)
            return out
        vocab = self.vocab
        return [vocab[t] for t in self.full.tokenize(line)]


def iter_raw_documents(input_files):
    """Yields documents as lists of stripped, non-empty lines.

    Lines are split on ``\\n`` only and stripped like the original's ``readline`` +
    ``strip``; a blank line ends a document; documents continue across files.
    """
    doc = []
    for path in input_files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--input_file: {path} does not exist")
        try:
            with open(path, encoding="utf-8", newline="\n") as reader:
                for line in reader:
                    line = line.strip()
                    if not line:
                        yield doc
                        doc = []
                    else:
                        doc.append(line)
        except UnicodeDecodeError as e:
            raise ValueError(f"--input_file: {path} is not valid UTF-8 ({e})") from None
    yield doc


def tokenize_documents(raw_documents, line_tokenizer, keep=None):
    """Tokenized documents (lists of id lists), empty ones removed, as the original.

    ``keep(k)`` selects raw documents by index (worker sharding).
    """
    documents = []
    for k, raw in enumerate(raw_documents):
        if keep is not None and not keep(k):
            continue
        doc = []
        for line in raw:
            ids = line_tokenizer.ids(line)
            if ids:
                doc.append(ids)
        if doc:
            documents.append(doc)
    return documents


class ExampleEncoder:
    """Serialises an :class:`Instance` as the original's padded tf.train.Example."""

    _ONE = struct.pack("<f", 1.0)
    _ZERO = struct.pack("<f", 0.0)

    def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
        self.max_seq_length = max_seq_length
        self.max_predictions = max_predictions_per_seq
        self.varints = tfrecord_io.VarintTable(max(vocab_size, max_seq_length))

    def encode(self, inst):
        n = len(inst.input_ids)
        pad = self.max_seq_length - n
        if pad < 0:
            raise AssertionError("instance longer than max_seq_length")
        k = len(inst.masked_lm_positions)
        mpad = self.max_predictions - k
        pack = self.varints.pack
        a = inst.len_a + 2
        f = tfrecord_io.int64_feature
        weights = self._ONE * k + self._ZERO * mpad
        return tfrecord_io.encode_example(
            [
                ("input_ids", f(pack(inst.input_ids) + b"\x00" * pad)),
                ("input_mask", f(b"\x01" * n + b"\x00" * pad)),
                ("segment_ids", f(b"\x00" * a + b"\x01" * (n - a) + b"\x00" * pad)),
                ("masked_lm_positions", f(pack(inst.masked_lm_positions) + b"\x00" * mpad)),
                ("masked_lm_ids", f(pack(inst.masked_lm_ids) + b"\x00" * mpad)),
                ("masked_lm_weights", tfrecord_io._len_delimited(
                    2, tfrecord_io._len_delimited(1, weights))),
                ("next_sentence_labels", f(b"\x01" if inst.is_random_next else b"\x00")),
            ]
        )


class RecordSpool:
    """Append-only store of serialised records, in memory up to a size, then on disk."""

    def __init__(self, directory, max_buffer_bytes):
        self._records = []
        self._bytes = 0
        self._limit = max_buffer_bytes
        self._dir = directory
        self._file = None
        self._offsets = None
        self._map = None

    def __len__(self):
        return len(self._offsets) - 1 if self._file is not None else len(self._records)

    def append(self, record):
        if self._file is not None:
            self._file.write(record)
            self._offsets.append(self._offsets[-1] + len(record))
            return
        self._records.append(record)
        self._bytes += len(record)
        if self._bytes > self._limit:
            self._file = tempfile.TemporaryFile(dir=self._dir, prefix=".spool-")
            self._offsets = array.array("q", [0])
            records, self._records = self._records, []
            for r in records:
                self.append(r)

    def getter(self):
        """Returns ``get(i)`` for random access once all records are appended."""
        if self._file is None:
            return self._records.__getitem__
        self._file.flush()
        if self._offsets[-1] == 0:
            return lambda i: b""
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        m, off = self._map, self._offsets
        return lambda i: m[off[i] : off[i + 1]]

    def close(self):
        if self._map is not None:
            self._map.close()
        if self._file is not None:
            self._file.close()


class OutputFiles:
    """Round-robin TFRecord writers that write temporaries and rename on commit."""

    def __init__(self, output_files, batch_size=1024):
        self.paths = list(output_files)
        self._tmp = []
        self._files = []
        for path in self.paths:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise FileNotFoundError(f"--output_file: directory {directory} does not exist")
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".tmp-")
            self._tmp.append(tmp)
            self._files.append(os.fdopen(fd, "wb"))
        self._pending = [[] for _ in self.paths]
        self._batch = batch_size
        self.count = 0

    def write(self, record):
        j = self.count % len(self.paths)
        self._pending[j].append(record)
        self.count += 1
        if len(self._pending[j]) >= self._batch:
            self._flush(j)

    def _flush(self, j):
        if self._pending[j]:
            self._files[j].write(tfrecord_io.frame_records(self._pending[j]))
            self._pending[j] = []

    def commit(self):
        for j, f in enumerate(self._files):
            self._flush(j)
            f.close()
        for tmp, path in zip(self._tmp, self.paths):
            os.replace(tmp, path)
        self._tmp = []

    def abort(self):
        for f in self._files:
            f.close()
        for tmp in self._tmp:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._tmp = []


@dataclasses.dataclass
class Progress:
    """Periodic progress lines: pass, documents, instances, instances/s."""

    prefix: str = ""
    every_s: float = 5.0
    printer: object = print

    def __post_init__(self):
        self._start = time.time()
        self._last = self._start

    def update(self, dupe, dupes, doc, docs, instances, force=False):
        now = time.time()
        if force or now - self._last >= self.every_s:
            self._last = now
            rate = instances / max(now - self._start, 1e-9)
            self.printer(
                f"{self.prefix}pass {dupe}/{dupes} documents {doc}/{docs} "
                f"instances {instances} ({rate:.0f} instances/s)"
            )


def generate_records(documents, opts, vocab_info, encoder, rng, spool, progress=None):
    """Creates every instance (all dupe passes) into `spool`; returns the permutation.

    ``documents`` is shuffled in place first and the returned order is the
    original's final ``rng.shuffle(instances)`` applied to instance indices.
    """
    rng.shuffle(documents)
    for dupe in range(opts.dupe_factor):
        for index in range(len(documents)):
            for inst in create_instances_from_document(documents, index, opts, vocab_info, rng):
                spool.append(encoder.encode(inst))
            if progress is not None and index % 64 == 0:
                progress.update(dupe + 1, opts.dupe_factor, index, len(documents), len(spool))
    order = list(range(len(spool)))
    rng.shuffle(order)
    if progress is not None:
        progress.update(opts.dupe_factor, opts.dupe_factor, len(documents), len(documents),
                        len(spool), force=True)
    return order


def _run_shard(input_files, tokenizer_factory, opts, seed, shard, num_shards, sink,
               max_buffer_bytes, progress, log_examples=None):
    """Tokenizes the shard's documents, creates its records and writes them to `sink`."""
    if _PRELOADED.get("factory") is tokenizer_factory:
        line_tokenizer = _PRELOADED["tokenizer"]  # built before fork, shared copy-on-write
    else:
        line_tokenizer = LineTokenizer(tokenizer_factory())
    vocab = line_tokenizer.vocab
    keep = None if num_shards == 1 else (lambda k: k % num_shards == shard)
    documents = tokenize_documents(iter_raw_documents(input_files), line_tokenizer, keep)
    if num_shards == 1:
        rng = random.Random(seed)
    else:
        rng = random.Random(f"{seed}/{shard}/{num_shards}")
    vocab_info = VocabInfo(vocab)
    encoder = ExampleEncoder(opts.max_seq_length, opts.max_predictions_per_seq,
                             max(vocab.values()) + 1)
    spool = RecordSpool(sink.directory, max_buffer_bytes)
    try:
        order = generate_records(documents, opts, vocab_info, encoder, rng, spool, progress)
        get = spool.getter()
        for n, i in enumerate(order):
            record = get(i)
            sink.write(record)
            if log_examples is not None and n < 20:
                log_examples(record)
    finally:
        spool.close()
    return len(documents), len(order)


class _ShardSink:
    """A worker's output: one part file per output file, same round-robin rule."""

    def __init__(self, directory, shard, num_outputs):
        self.directory = directory
        self.paths = [os.path.join(directory, f".part-{shard}-{j}") for j in range(num_outputs)]
        self._writer = OutputFiles(self.paths)

    def write(self, record):
        self._writer.write(record)

    def commit(self):
        self._writer.commit()


def _worker_main(args):
    (input_files, tokenizer_factory, opts, seed, shard, num_shards, directory, num_outputs,
     max_buffer_bytes, show_progress) = args
    sink = _ShardSink(directory, shard, num_outputs)
    progress = Progress(prefix=f"[worker {shard}] ") if show_progress else None
    docs, count = _run_shard(input_files, tokenizer_factory, opts, seed, shard, num_shards,
                             sink, max_buffer_bytes, progress)
    sink.commit()
    return docs, count, sink.paths


@dataclasses.dataclass
class Result:
    documents: int
    instances: int
    seconds: float


def create_pretraining_data(input_files, output_files, tokenizer_factory, opts, random_seed,
                            num_workers=1, max_buffer_bytes=256 << 20, progress=True,
                            log_examples=None):
    """Writes the pre-training TFRecords; returns a :class:`Result`.

    ``tokenizer_factory()`` builds the FullTokenizer (called in each worker; it must
    be picklable, e.g. a ``functools.partial``). Outputs appear atomically.
    """
    opts.validate()
    if not input_files:
        raise FileNotFoundError("--input_file matched no files")
    for path in input_files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--input_file: {path} does not exist")
    if not output_files:
        raise ValueError("--output_file is empty")
    if num_workers < 1:
        raise ValueError(f"--num_workers={num_workers} must be at least 1")
    start = time.time()
    out = OutputFiles(output_files)
    try:
        if num_workers == 1:
            out.directory = os.path.dirname(os.path.abspath(output_files[0]))
            docs, count = _run_shard(input_files, tokenizer_factory, opts, random_seed, 0, 1,
                                     out, max_buffer_bytes,
                                     Progress() if progress else None, log_examples)
        else:
            docs, count = _run_workers(input_files, tokenizer_factory, opts, random_seed,
                                       num_workers, out, max_buffer_bytes, progress)
        if docs == 0:
            raise ValueError(f"--input_file: no text found in {', '.join(input_files)}")
        out.commit()
    except BaseException:
        out.abort()
        raise
    return Result(docs, count, time.time() - start)


def _run_workers(input_files, tokenizer_factory, opts, seed, num_workers, out,
                 max_buffer_bytes, progress):
    directory = os.path.dirname(os.path.abspath(out.paths[0]))
    workdir = tempfile.mkdtemp(dir=directory, prefix=".create-pretraining-")
    try:
        jobs = [
            (input_files, tokenizer_factory, opts, seed, w, num_workers, workdir,
             len(out.paths), max_buffer_bytes, progress)
            for w in range(num_workers)
        ]
        # Fork is cheap and shares the loaded tokenizer, but is unsafe once TensorFlow's
        # threads exist; then spawn.
        use_fork = "tensorflow" not in sys.modules and os.name == "posix"
        if use_fork:
            _PRELOADED.update(factory=tokenizer_factory,
                              tokenizer=LineTokenizer(tokenizer_factory()))
        ctx = multiprocessing.get_context("fork" if use_fork else "spawn")
        try:
            with ctx.Pool(num_workers) as pool:
                results = pool.map(_worker_main, jobs, chunksize=1)
        finally:
            _PRELOADED.clear()
        # Concatenate the workers' parts (TFRecord files concatenate byte-wise).
        for j, f in enumerate(out._files):
            out._flush(j)
            for _, _, parts in results:
                with open(parts[j], "rb") as part:
                    shutil.copyfileobj(part, f, 1 << 20)
        out.count = sum(c for _, c, _ in results)
        return sum(d for d, _, _ in results), out.count
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
