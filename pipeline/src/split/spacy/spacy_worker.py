"""The spaCy sentence splitter of `pipeline prepare`, one process of its pool.

The pipeline starts it as `python -c <this file> MODEL MAX_LENGTH COMPONENTS` and talks to
it over stdin/stdout in frames: a little-endian u32 length, then that many bytes.

- Out, first: a hello frame, `H` + JSON: spaCy's version, the model's name and version, the
  components it runs, `max_length`.
- In: a batch frame, `B` + u32 count + per document (u32 length + UTF-8 text).
- Out: `R` + per document (u32 sentence count + per sentence (u32 length + UTF-8)): exactly
  what the reference kept, `[s.text.strip() for s in nlp(text).sents if s.text.strip()]`.
- Out, on a failure: `E` + u32 index of the document in the batch + a one-line message;
  the process then exits. Indices that name no document: 0xfffffffe, spaCy cannot be
  imported; 0xfffffffd, the model cannot load; 0xffffffff, any other failure.
- In: an empty frame: exit.

A worker whose parent is gone exits at once: a pipeline killed with SIGKILL cannot close its
stdin, and the worker would otherwise finish its batch (tens of seconds) as an orphan, outside
a cluster job's accounting.

COMPONENTS is `full` (every component, as the reference ran the model) or `fast` (only
`tok2vec` and `parser`, which alone decide the sentence boundaries; proven to give the same
sentences, see the splitter's tests). `nlp.max_length` is raised to MAX_LENGTH.
"""

import json
import os
import struct
import sys
import threading
import time


# The document index of an error frame that names no document: spaCy cannot be imported,
# the model cannot load, or something else (worker.rs reads the same numbers).
NOT_A_DOCUMENT, NO_SPACY, NO_MODEL = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def frame(out, kind, payload=b""):
    out.write(struct.pack("<I", len(payload) + 1) + kind + payload)
    out.flush()


def fail(out, index, message):
    frame(out, b"E", struct.pack("<I", index) + message.replace("\n", " ")[:500].encode())
    sys.exit(0)


def read_exact(inp, n):
    data = inp.read(n)
    if len(data) != n:
        sys.exit(0)
    return data


def exit_with_parent():
    # Polled rather than PR_SET_PDEATHSIG: that signal follows the thread that started the
    # worker, not the process, and the pipeline's threads come and go.
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main():
    exit_with_parent()
    model, max_length, components = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    # Keep stdout for frames only: anything a library prints goes to stderr.
    sys.stdout = sys.stderr
    try:
        import spacy
    except ImportError as e:
        fail(out, NO_SPACY, str(e))
    try:
        keep = {"full": None, "fast": {"tok2vec", "parser"}}[components]
        nlp = spacy.load(model)
        if keep is not None:
            nlp = spacy.load(model, exclude=[n for n in nlp.component_names if n not in keep])
    except Exception as e:  # spaCy raises OSError for a missing model, among others
        fail(out, NO_MODEL, f"{type(e).__name__}: {e}")
    nlp.max_length = max_length
    meta = nlp.meta
    hello = {
        "spacy": spacy.__version__,
        "model": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "model_version": meta.get("version", ""),
        "components": nlp.pipe_names,
        "max_length": nlp.max_length,
    }
    frame(out, b"H", json.dumps(hello).encode())
    while True:
        (length,) = struct.unpack("<I", read_exact(inp, 4))
        if length == 0:
            return
        payload = read_exact(inp, length)
        if payload[:1] != b"B":
            fail(out, NOT_A_DOCUMENT, "a request frame that is not a batch")
        (count,), at, texts = struct.unpack_from("<I", payload, 1), 5, []
        for _ in range(count):
            (n,) = struct.unpack_from("<I", payload, at)
            texts.append(payload[at + 4:at + 4 + n].decode("utf-8"))
            at += 4 + n
        for i, text in enumerate(texts):
            if len(text) > nlp.max_length:
                fail(out, i, f"the document has {len(text)} characters, over max_length {nlp.max_length}")
        parts = [b"R"]
        i = 0
        try:
            for i, doc in enumerate(nlp.pipe(texts, batch_size=8)):
                sentences = [s.text.strip() for s in doc.sents if s.text.strip()]
                parts.append(struct.pack("<I", len(sentences)))
                for s in sentences:
                    data = s.encode("utf-8")
                    parts.append(struct.pack("<I", len(data)) + data)
        except Exception as e:
            fail(out, i, f"{type(e).__name__}: {e}")
        frame(out, b"R", b"".join(parts)[1:])


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
