"""A >= 20,000-line tokenizer test corpus built at test time (no downloads).

Real prose comes from docstrings of installed packages (read with ``ast``, nothing
is imported); generated lines cover the original tokenizer's edge cases: accented
Latin (precomposed and combining), CJK ideographs and non-CJK East Asian scripts,
emoji sequences, control / format / zero-width characters, Unicode whitespace,
words around the 100- and 200-character WordPiece limits, empty lines, and random
code points from every plane.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import random

_PACKAGES = ("numpy", "scipy", "keras", "absl", "safetensors")

_FIXED = [
    "",
    " ",
    "\t\t",
    "Hello, World! naïve café résumé Ångström",
    "ΣΑΣ ΟΔΟΣ Σίσυφος ὅς ἐστι",
    "İstanbul ıIiİ DİYARBAKIR",
    "straße STRASSE ß ẞ",
    "ﬁne ﬂow ﬀ ＡＢＣ ｆｕｌｌｗｉｄｔｈ ①②③ ²³ Ⅻ ℃ ™ № ½",
    "中文字符测试，包括标点。日本語のテキスト、カタカナ。한국어 텍스트",
    "𠀀𠀁𪜀 豈更車 丽丸乁",
    "emoji 😀👍🏽👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇯🇵",
    "zero\u200bwidth\u200cjoiner\u200dmarks\ufeffbom\u00adsoft",
    "nul\x00bell\x07esc\x1bdel\x7fc1\x85\x9f",
    "ws\u00a0nbsp\u2002en\u3000ideo\u2028line\u2029para\u202fnarrow\x0bvt\x0cff",
    "tab\tnew\nline\rcr",
    "replacement \ufffd char",
    "[CLS] [SEP] [MASK] [UNK] [PAD] ##ing ## # don't",
    "Tiếng Việt có dấu: Nguyễn Thị Minh Khai",
    "עִבְרִית مرحبا بالعالم हिन्दी देवनागरी ภาษาไทย",
    "e\u0301 a\u0300\u0323 o\u0308\u0304 combining",
    "a" * 99, "a" * 100, "a" * 101,
    "b" * 199, "b" * 200, "b" * 201, "unaffable" * 22, "unaffable" * 23,
    "é" * 150 + " " + "é" * 250,
]


def _docstring_lines(limit):
    lines = []
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None:
            continue
        roots = list(spec.submodule_search_locations or [os.path.dirname(spec.origin)])
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for filename in sorted(filenames):
                    if not filename.endswith(".py"):
                        continue
                    try:
                        with open(os.path.join(dirpath, filename), encoding="utf-8") as f:
                            tree = ast.parse(f.read())
                    except (SyntaxError, UnicodeDecodeError, ValueError):
                        continue
                    for node in ast.walk(tree):
                        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                             ast.AsyncFunctionDef)):
                            doc = ast.get_docstring(node, clean=False)
                            if doc:
                                lines.extend(doc.splitlines())
                    if len(lines) >= limit:
                        return lines[:limit]
    return lines


def _random_word(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def _generated_lines(rng, n):
    latin = [chr(c) for c in range(0xC0, 0x250) if chr(c).isalpha()] + list("aeiouAEIOU")
    marks = [chr(c) for c in range(0x300, 0x370)]
    cjk = ([chr(c) for c in range(0x4E00, 0x4E00 + 400)]
           + [chr(c) for c in range(0x3400, 0x3400 + 50)]
           + [chr(c) for c in range(0x20000, 0x20000 + 50)]
           + [chr(c) for c in range(0xF900, 0xF900 + 50)]
           + [chr(c) for c in range(0x2F800, 0x2F800 + 30)])
    kana_hangul = [chr(c) for c in list(range(0x3041, 0x3097)) + list(range(0xAC00, 0xAC80))]
    emoji = [chr(c) for c in range(0x1F300, 0x1F650)] + ["\u200d", "\ufe0f", "\U0001F3FD"]
    controls = [chr(c) for c in list(range(0, 32)) + list(range(0x7F, 0xA0))] + [
        "\u200b", "\u200e", "\u2060", "\ufeff", "\ufffd", "\u00ad", "\u061c"]
    spaces = [" ", "\u00a0", "\u1680", "\u2000", "\u2009", "\u202f", "\u205f", "\u3000",
              "\u2028", "\u2029", "\x1c", "\x85"]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["¡", "¿", "«", "»", "—", "…", "。",
                                                          "、", "「", "」", "‽", "⁂", "·"]
    english = "the of and to in is was for on that with as by at from his an it".split()
    out = []
    for i in range(n):
        kind = i % 9
        words = []
        for _ in range(rng.randint(0, 12)):
            r = rng.random()
            if kind == 0 or r < 0.3:
                words.append(rng.choice(english).capitalize() if rng.random() < .3
                             else rng.choice(english))
            elif kind == 1:
                w = _random_word(rng, latin, 1, 8)
                if rng.random() < 0.5:
                    w += rng.choice(marks)
                words.append(w)
            elif kind == 2:
                words.append(_random_word(rng, cjk + kana_hangul, 1, 6))
            elif kind == 3:
                words.append(_random_word(rng, emoji + list("ab"), 1, 5))
            elif kind == 4:
                words.append(_random_word(rng, controls + list("abc"), 1, 6))
            elif kind == 5:
                words.append(_random_word(rng, list("unaffableé"), 90, 210))
            elif kind == 6:
                words.append(_random_word(rng, punct + list("xyz09"), 1, 6))
            elif kind == 7:
                cp = rng.randint(0x20, 0x2FFFF)
                while 0xD800 <= cp <= 0xDFFF:
                    cp = rng.randint(0x20, 0x2FFFF)
                words.append(chr(cp) + rng.choice(english))
            else:
                words.append("")
        sep = [rng.choice(spaces) if rng.random() < 0.2 else " " for _ in words]
        out.append("".join(w + s for w, s in zip(words, sep)))
    return out


def build_corpus(n_docstring_lines=16000, n_generated=4500, seed=1234):
    """Returns a list of >= 20,000 strings (deterministic for a given environment)."""
    rng = random.Random(seed)
    lines = _FIXED + _docstring_lines(n_docstring_lines) + _generated_lines(rng, n_generated)
    return lines
