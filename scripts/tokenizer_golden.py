#!/usr/bin/env python3
"""Golden data for tests/test_tokenizer.c, computed with the PyPI `tokenizers`
library (the reference implementation of byte-level BPE used by Hugging Face).

  tokenizer_golden.py --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf
      extract the vocabulary, merges and chat template of a GGUF (PyPI `gguf`)
      into tests/data/tokenizer/, then regenerate golden.txt
  tokenizer_golden.py            regenerate golden.txt from the committed extract
  tokenizer_golden.py --check    recompute and compare with the committed golden.txt

The BPE is built from the SAME vocabulary and merges for every pre-tokenizer
("smollm" is SmolLM2's own; "gpt2", "qwen2" and "llama-bpe" check the other
families' regexes on the same merges). Pre-tokenizer chains follow the
tokenizer.json files of those models.
"""
import argparse
import pathlib
import sys

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "tokenizer"
VOCAB = DATA / "smollm2_vocab.txt"
TEMPLATE = DATA / "smollm2_chat_template.txt"
CORPUS = DATA / "corpus.txt"
GOLDEN = DATA / "golden.txt"

# Split regexes as written in the models' tokenizer.json files.
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
PRES = ["smollm", "gpt2", "qwen2", "llama-bpe"]

# Short inputs aimed at the edges of the regexes and of special-token matching.
EDGE_CASES = [
    "", " ", "  ", "\n", "\n\n", " \n", "a", "a  b", "a   \n  b", "a \t\n b", "1 2", "  1", "x  1",
    "ab12cd", "2024", "12345", "'s", "'S", "'ll'LL", "don't", "x'", "'", "''", "!!", " !", "  !\n\n",
    "hello<|im_end|>", "<|im_start|><|im_end|>", "<|endoftext|", "<<|endoftext|>>", " <|im_end|> ",
    "\u00a0\u00a0x", "\u3000\u3000", "é", "e\u0301", "\u0085\u0085", "😀", " 😀😀", "日本 語",
]


def random_cases(n=120, seed=20240611):
    """Seeded strings from a soup of character classes the regexes treat
    differently: Unicode whitespace of every kind, letters and marks of many
    scripts, digits of several systems, apostrophes, punctuation, emoji."""
    import random

    rng = random.Random(seed)
    soup = (list("abcXYZ'sStTlLdDmMvVrReE09!?.,;:-_()[]{}<>|/\\\"#@&*+=~`$%^") +
            list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u200b\u2028\u2029\u202f"
                 "\u205f\u3000\ufeff") +
            list("éÅßøĳſ\u212a\u0301\u0308\u093fàअइ中文字かなカナ한글ДжЖΩωאבعربية") +
            list("٠٣९৫๓²³¹½⅓ⅧⅫ①⑳𝟘𝟡") +
            ["😀", "👍🏽", "🇫🇷", "👨\u200d👩", "\U00050000", "<|im_end|>", "<|endoftext|>", "'ll", "'RE", "  ", "\r\n"])
    return ["".join(rng.choice(soup) for _ in range(rng.randrange(1, 40))) for _ in range(n)]


def byte_alphabet():
    """GPT-2's byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def extract_gguf(path):
    from gguf import GGUFReader  # PyPI `gguf`

    r = GGUFReader(str(path))
    f = r.fields

    def scalar(key, default=-1):
        return f[key].parts[f[key].data[0]].tolist()[0] if key in f else default

    def strings(key):
        return [bytes(f[key].parts[i]).decode("utf-8") for i in f[key].data]

    tokens = strings("tokenizer.ggml.tokens")
    types = [f["tokenizer.ggml.token_type"].parts[i].tolist()[0] for i in f["tokenizer.ggml.token_type"].data]
    merges = strings("tokenizer.ggml.merges")
    for t in tokens + merges:
        if not t or "\n" in t or "\r" in t:
            sys.exit(f"token {t!r} cannot be stored one per line")
    model = bytes(f["tokenizer.ggml.model"].parts[f["tokenizer.ggml.model"].data[0]]).decode()
    pre = bytes(f["tokenizer.ggml.pre"].parts[f["tokenizer.ggml.pre"].data[0]]).decode()
    out = [f"zf-vocab 1", f"model {model}", f"pre {pre}",
           f"bos {scalar('tokenizer.ggml.bos_token_id')}", f"eos {scalar('tokenizer.ggml.eos_token_id')}",
           f"tokens {len(tokens)}"]
    out += [f"{ty} {t}" for t, ty in zip(tokens, types)]
    out += [f"merges {len(merges)}"] + merges
    VOCAB.write_text("\n".join(out) + "\n", encoding="utf-8", newline="")
    key = "tokenizer.chat_template"
    if key in f:
        TEMPLATE.write_bytes(bytes(f[key].parts[f[key].data[0]]))


def load_vocab():
    lines = VOCAB.read_text(encoding="utf-8").split("\n")
    head = dict(l.split(" ", 1) for l in lines[:6])
    n_tok = int(head["tokens"])
    toks = [l.split(" ", 1) for l in lines[6:6 + n_tok]]
    n_merges = int(lines[6 + n_tok].split(" ")[1])
    merges = lines[7 + n_tok:7 + n_tok + n_merges]
    return [t for _, t in toks], [int(ty) for ty, _ in toks], merges


def build(pre, tokens, types, merges):
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers as P

    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                     merges=[tuple(m.split(" ")) for m in merges])
    tk = Tokenizer(bpe)
    byte_level = P.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        tk.pre_tokenizer = P.Sequence([P.Digits(individual_digits=True), byte_level])
    elif pre == "gpt2":
        tk.pre_tokenizer = byte_level
    else:
        rx = QWEN2 if pre == "qwen2" else LLAMA3
        tk.pre_tokenizer = P.Sequence([P.Split(Regex(rx), behavior="isolated", invert=False),
                                       P.ByteLevel(add_prefix_space=False, use_regex=False)])
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, ty in zip(tokens, types) if ty == 3])
    tk.add_tokens([AddedToken(t, special=False, normalized=False)
                   for t, ty in zip(tokens, types) if ty == 4])
    return tk


def golden_text():
    import tokenizers

    tokens, types, merges = load_vocab()
    corpus = CORPUS.read_bytes().decode("utf-8")
    cases = [corpus] + [l + "\n" for l in corpus.split("\n")[:-1]] + EDGE_CASES + random_cases()
    inverse = {c: b for b, c in byte_alphabet().items()}
    out = [f"# generated by scripts/tokenizer_golden.py with tokenizers {tokenizers.__version__}",
           "# case <utf-8 hex> | pieces <pre> <raw-byte hex>... | ids <pre> <parse_special> <id>..."]
    tks = {pre: build(pre, tokens, types, merges) for pre in PRES}
    for text in cases:
        out.append("case " + text.encode("utf-8").hex())
        for pre in PRES:
            tk = tks[pre]
            pieces = tk.pre_tokenizer.pre_tokenize_str(text)
            out.append(" ".join([f"pieces {pre}"] +
                                [bytes(inverse[c] for c in p).hex() for p, _ in pieces]))
            for special in (1, 0):
                tk.encode_special_tokens = not special
                ids = tk.encode(text, add_special_tokens=False).ids
                out.append(" ".join([f"ids {pre} {special}"] + [str(i) for i in ids]))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", help="extract the vocabulary from this GGUF first")
    ap.add_argument("--check", action="store_true", help="compare with the committed golden.txt")
    a = ap.parse_args()
    if a.gguf:
        extract_gguf(a.gguf)
    text = golden_text()
    if a.check:
        old = GOLDEN.read_text(encoding="utf-8")
        # the version line may differ; the data may not
        if old.split("\n", 1)[1] != text.split("\n", 1)[1]:
            sys.exit("golden.txt differs from what tokenizers computes now")
        print("golden.txt matches")
        return
    GOLDEN.write_text(text, encoding="utf-8")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
