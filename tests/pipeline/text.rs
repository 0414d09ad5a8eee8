//! The text stages end to end: `fixture`, `prepare`, `sentences`, `tokenize`.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
};

use earlyberts_format::Vocab;
use earlyberts_pipeline::{stage::Tokenizer, store::SentenceStore, tokenize::BertWordPiece};

use crate::util::{Output, pipeline, pipeline_run, snapshot};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/corpus")
}

/// A temp dir holding the fixture inputs (`in/`) and a recipe with small store shards.
struct TextFixture {
    root: tempfile::TempDir,
}

impl TextFixture {
    fn new() -> TextFixture {
        let root = tempfile::tempdir().unwrap();
        pipeline_run([
            "fixture".as_ref(),
            "--corpus".as_ref(),
            corpus_dir().as_os_str(),
            "--out".as_ref(),
            root.path().join("in").as_os_str(),
        ])
        .expect_code(0);
        let recipe = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../manifests/recipes/earlyberts-keyed.toml"),
        )
        .unwrap()
        .replace("sentences_per_shard = 8388608", "sentences_per_shard = 100");
        fs::write(root.path().join("recipe.toml"), recipe).unwrap();
        TextFixture { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `pipeline prepare --recipe R --out STORE ARGS...`.
    fn prepare_args(&self, args: &[&std::ffi::OsStr]) -> Output {
        crate::util::run(
            pipeline()
                .arg("prepare")
                .arg("--recipe")
                .arg(self.path("recipe.toml"))
                .arg("--out")
                .arg(self.path("store"))
                .args(args),
        )
    }

    fn prepare(&self, out: &str, books: &str, threads: &str) -> Output {
        crate::util::run(
            crate::util::prepare_command(
                &self.path("recipe.toml"),
                &self.path(out),
                &self.path("in/wikipedia/*.parquet"),
                &self.path(books),
            )
            .env("RAYON_NUM_THREADS", threads),
        )
    }
}

#[test]
fn store_is_identical_for_any_thread_count() {
    let fx = TextFixture::new();
    fx.prepare("one", "in/bookcorpus/bookcorpus.tar.bz2", "1")
        .expect_code(0)
        .expect_output("prepared 7 documents");
    fx.prepare("two", "in/bookcorpus/bookcorpus.tar.bz2", "2")
        .expect_code(0);
    let strip = |s: String, dir: &str| s.replace(&fx.path(dir).display().to_string(), "STORE");
    let one = strip(snapshot(&fx.path("one")), "one");
    let two = strip(snapshot(&fx.path("two")), "two");
    assert_eq!(one, two);
    assert!(
        one.contains("000002.tokens"),
        "expected several shards:\n{one}"
    );
}

#[test]
fn archive_and_parquet_bookcorpus_give_the_same_sentences() {
    let fx = TextFixture::new();
    fx.prepare("archive", "in/bookcorpus/bookcorpus.tar.bz2", "2")
        .expect_code(0);
    fx.prepare("parquet", "in/bookcorpus/*.parquet", "2")
        .expect_code(0);
    let (a, b) = (
        SentenceStore::open(&fx.path("archive")).unwrap(),
        SentenceStore::open(&fx.path("parquet")).unwrap(),
    );
    assert_eq!(a.manifest().shards, b.manifest().shards);
    assert_eq!(a.manifest().totals, b.manifest().totals);
}

#[test]
fn store_holds_the_tokenized_sentences_in_corpus_order() {
    let fx = TextFixture::new();
    fx.prepare("store", "in/bookcorpus/bookcorpus.tar.bz2", "2")
        .expect_code(0);
    let store = SentenceStore::open(&fx.path("store")).unwrap();
    let vocab = Vocab::bert_base_uncased();
    let tokenizer = BertWordPiece::new(&vocab).unwrap();
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    // The first sentence of the first article, and the last BookCorpus row.
    store.sentence_into(0, &mut ids);
    tokenizer
        .encode_into(
            "Lake Varrow is a glacial lake in the fictional province of Eastmark.",
            &mut expected,
        )
        .unwrap();
    assert_eq!(ids, expected);
    assert_eq!(store.document(0), 0);
    ids.clear();
    expected.clear();
    store.sentence_into(store.len() - 1, &mut ids);
    tokenizer.encode_into("the end", &mut expected).unwrap();
    assert_eq!(ids, expected);
    assert_eq!(
        store.document(store.len() - 1),
        6,
        "six articles, then BookCorpus as one document"
    );
    // The keyed recipe splits as spaCy does: a heading, and list items without a terminal
    // mark, stay with the text after them.
    let sentences: Vec<String> = (0..store.len())
        .map(|i| {
            let mut ids = Vec::new();
            store.sentence_into(i, &mut ids);
            ids.iter()
                .map(|&id| vocab.token(id).unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(
        !sentences.contains(&"history".to_string()),
        "{sentences:#?}"
    );
    assert!(
        sentences
            .iter()
            .any(|s| s.starts_with("history the first settlers arrived")),
        "{sentences:#?}"
    );
    assert!(
        sentences
            .iter()
            .any(|s| s.contains("; * the little tam ##m ; * the ve ##ll ,")),
        "{sentences:#?}"
    );
}

#[test]
fn sentences_and_tokenize_commands() {
    let stdin_run = |args: &[&str], input: &str| stdin_output(pipeline().args(args), input);
    let out = stdin_run(
        &["sentences"],
        "Dr. Watson arrived. He was\nlate.\n\nNew paragraph! Yes.\n",
    )
    .expect_code(0);
    assert_eq!(
        out.stdout,
        "Dr. Watson arrived.\nHe was late.\nNew paragraph!\nYes.\n"
    );
    let out = stdin_run(&["tokenize"], "Hello, world!\n\nunaffable\n").expect_code(0);
    assert_eq!(out.stdout, "7592 1010 2088 999\n\n14477 20961 3468\n");
    let out = stdin_run(&["tokenize", "--pieces"], "The [MASK] sat.\n").expect_code(0);
    assert_eq!(out.stdout, "the [MASK] sat .\n");
    stdin_run(&["sentences", "--clean", "nfkc"], "x")
        .expect_code(2)
        .expect_output("unknown cleaning rule 'nfkc'");
}

#[test]
fn bad_inputs_are_one_line_errors_and_leave_no_store() {
    let fx = TextFixture::new();
    let wiki = fx.path("in/wikipedia/train-00000-of-00001.parquet");
    let good = fs::read(&wiki).unwrap();
    let bad_dir = fx.path("bad");
    fs::create_dir_all(&bad_dir).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.parquet",
            good[..good.len() / 2].to_vec(),
            "is not a usable parquet file",
        ),
        (
            "garbage.parquet",
            b"PAR1 not really".to_vec(),
            "is not a usable parquet file",
        ),
        ("empty.parquet", Vec::new(), "is not a usable parquet file"),
        (
            "truncated.tar.bz2",
            fs::read(fx.path("in/bookcorpus/bookcorpus.tar.bz2")).unwrap()[..1000].to_vec(),
            "is not a usable tar.bz2 file",
        ),
        ("notes.txt", b"hello".to_vec(), "unknown extension"),
    ];
    for (name, bytes, message) in cases {
        let path = bad_dir.join(name);
        fs::write(&path, bytes).unwrap();
        let (wiki, books) = if name.ends_with(".tar.bz2") {
            (fx.path("in/wikipedia/*.parquet"), path.clone())
        } else {
            (path.clone(), fx.path("in/bookcorpus/bookcorpus.tar.bz2"))
        };
        let out = fx
            .prepare_args(&[
                "--wiki".as_ref(),
                wiki.as_os_str(),
                "--books".as_ref(),
                books.as_os_str(),
            ])
            .expect_code(2)
            .expect_output(message)
            .expect_output(name);
        assert_eq!(out.stderr.lines().count(), 1, "{name}\n{}", out.dump());
        assert!(
            !fx.path("store/store.json").exists(),
            "{name} left a store behind"
        );
    }
    // A parquet file without a `text` column.
    let no_text = bad_dir.join("no_text.parquet");
    earlyberts_pipeline::source::fixture::write_parquet(
        &no_text,
        vec![(
            "body",
            std::sync::Arc::new(arrow_array::StringArray::from(vec!["x"])) as arrow_array::ArrayRef,
        )],
    )
    .unwrap();
    fx.prepare_args(&[
        "--wiki".as_ref(),
        no_text.as_os_str(),
        "--books".as_ref(),
        no_text.as_os_str(),
    ])
    .expect_code(2)
    .expect_output("it has no column 'text' (columns: body)");
    // A vocabulary that is not the recipe's.
    let vocab = bad_dir.join("vocab.txt");
    fs::write(&vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n").unwrap();
    fx.prepare_args(&["--vocab".as_ref(), vocab.as_os_str()])
        .expect_code(2)
        .expect_output("pass it with --vocab");
    // Duplicate tokens in a vocabulary.
    fs::write(&vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\na\n").unwrap();
    pipeline_run(["tokenize".as_ref(), "--vocab".as_ref(), vocab.as_os_str()])
        .expect_code(2)
        .expect_output("'a' appears on lines 6 and 7");
    // Globs that match nothing.
    fx.prepare_args(&["--wiki".as_ref(), "/nonexistent/*.parquet".as_ref()])
        .expect_code(2)
        .expect_output("no file matches");
}

#[test]
fn non_utf8_rows_are_named() {
    let fx = TextFixture::new();
    let archive = fx.path("bad.tar.bz2");
    // An archive whose second line holds a lone 0xFF byte.
    let raw = {
        let data = b"fine\nbad \xff\n".to_vec();
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let mut builder = tar::Builder::new(bzip2::write::BzEncoder::new(
            Vec::new(),
            bzip2::Compression::fast(),
        ));
        builder
            .append_data(&mut header, "books_large_p1.txt", &data[..])
            .unwrap();
        builder.into_inner().unwrap().finish().unwrap()
    };
    fs::write(&archive, raw).unwrap();
    fx.prepare_args(&[
        "--wiki".as_ref(),
        fx.path("in/wikipedia/*.parquet").as_os_str(),
        "--books".as_ref(),
        archive.as_os_str(),
    ])
    .expect_code(2)
    .expect_output("books_large_p1.txt: line 2 is not valid UTF-8");
}

/// An article with headings and a list, as the keyed recipe's splitter keeps a heading with
/// the text after it.
const HEADED_ARTICLE: &str = "Anarchism\n\nAnarchism is a political philosophy. It is skeptical of authority.\n\nHistory\nThe earliest anarchist themes can be found in the 6th century BC.\n\nSee also\n* Outline of anarchism\n* List of anarchists\n\nReferences\n\nFurther reading\nDr. Smith wrote \"Anarchy\" (1990). It sold well.";

/// `pipeline sentences --recipe R` prints exactly the sentences a build of R stores, as
/// `prepare --write-sentences` exports them: one splitting path.
#[test]
fn sentences_prints_what_a_build_of_the_recipe_splits() {
    let fx = TextFixture::new();
    let wiki = fx.path("headed/wiki.parquet");
    fs::create_dir_all(wiki.parent().unwrap()).unwrap();
    let articles = [HEADED_ARTICLE, "One more. Article\n\nHeading\nText."];
    let column: arrow_array::ArrayRef = std::sync::Arc::new(arrow_array::StringArray::from(
        articles.iter().map(|a| Some(*a)).collect::<Vec<_>>(),
    ));
    earlyberts_pipeline::source::fixture::write_parquet(&wiki, vec![("text", column)]).unwrap();
    let csv = fx.path("sentences.csv");
    fx.prepare_args(&[
        "--wiki".as_ref(),
        wiki.as_os_str(),
        "--books".as_ref(),
        fx.path("in/bookcorpus/bookcorpus.tar.bz2").as_os_str(),
        "--write-sentences".as_ref(),
        csv.as_os_str(),
    ])
    .expect_code(0);
    let exported = read_sentence_csv(&fs::read_to_string(&csv).unwrap());
    let input: String = articles
        .iter()
        .map(|a| serde_json::to_string(a).unwrap() + "\n")
        .collect();
    let mut command = pipeline();
    command
        .args(["sentences", "--jsonl", "--recipe"])
        .arg(fx.path("recipe.toml"));
    let printed = stdin_output(&mut command, &input).expect_code(0);
    let printed: Vec<String> = printed
        .stdout
        .lines()
        .flat_map(|line| serde_json::from_str::<Vec<String>>(line).unwrap())
        .collect();
    assert_eq!(printed, exported);
    // The keyed recipe keeps a heading with the text after it, as spaCy does.
    assert!(
        printed
            .iter()
            .any(|s| s.starts_with("History\nThe earliest")),
        "{printed:#?}"
    );
    // Plain text in, one sentence per line out, line breaks inside a sentence as spaces.
    let mut command = pipeline();
    command.args(["sentences", "--line-breaks", "spacy-like"]);
    let plain = stdin_output(&mut command, HEADED_ARTICLE).expect_code(0);
    let first: Vec<String> = printed[..plain.stdout.lines().count()]
        .iter()
        .map(|s| s.replace('\n', " "))
        .collect();
    assert_eq!(plain.stdout.lines().collect::<Vec<_>>(), first);
}

/// The sentences of a `wiki-sentences.csv` (header `"text"`, every field quoted).
fn read_sentence_csv(text: &str) -> Vec<String> {
    let mut rest = text.strip_prefix("\"text\"\n").expect("the header");
    let mut out = Vec::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix('"').expect("a quoted field");
        let mut field = String::new();
        loop {
            let end = rest.find('"').expect("a closing quote");
            field.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    field.push('"');
                    rest = after;
                }
                None => break,
            }
        }
        rest = rest.strip_prefix('\n').expect("a line end");
        out.push(field);
    }
    out
}

fn stdin_output(command: &mut std::process::Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits before it reads: its stdin may be closed.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    assert!(
        written
            .as_ref()
            .err()
            .is_none_or(|e| e.kind() == std::io::ErrorKind::BrokenPipe),
        "{written:?}"
    );
    let out = child.wait_with_output().unwrap();
    Output {
        command: format!("{command:?}"),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `pipeline fixture` carries the sample corpus inside the binary: run from a directory
/// with no checkout around it, it writes the same files as from the corpus in the checkout.
#[test]
fn fixture_writes_the_sample_corpus_from_any_directory() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    crate::util::run(
        pipeline()
            .current_dir(&elsewhere)
            .args(["fixture", "--out", "bundled"]),
    )
    .expect_code(0);
    pipeline_run([
        "fixture".as_ref(),
        "--corpus".as_ref(),
        corpus_dir().as_os_str(),
        "--out".as_ref(),
        root.path().join("checkout").as_os_str(),
    ])
    .expect_code(0);
    let files = |dir: &Path| snapshot(dir).replace(dir.to_str().unwrap(), "OUT");
    let bundled = files(&elsewhere.join("bundled"));
    assert_eq!(bundled, files(&root.path().join("checkout")));
    assert_eq!(bundled.lines().count(), 3, "{bundled}");
}

/// `pipeline fixture --synthetic SCALE`: the same bytes for any thread count, laid out as
/// `pipeline fetch` lays the real sources down, with the real counts at that scale, read
/// back by the pipeline's own readers; `--sentences` writes Wikipedia as the reference's CSV.
#[test]
fn a_synthetic_corpus_has_the_real_shape_and_the_same_bytes_for_any_thread_count() {
    let root = tempfile::tempdir().unwrap();
    let generate = |threads: &str, out: &str, sentences: bool| {
        let mut command = pipeline();
        command.args(["-j", threads, "fixture", "--synthetic", "0.0005", "--out"]);
        command.arg(root.path().join(out));
        command.args(sentences.then_some("--sentences"));
        crate::util::run(&mut command).expect_code(0);
        root.path().join(out)
    };
    let (one, two) = (generate("1", "one", false), generate("2", "two", false));
    let files = |dir: &Path| snapshot(dir).replace(dir.to_str().unwrap(), "OUT");
    assert_eq!(files(&one), files(&two));
    let texts = |path: &Path| {
        let mut reader = earlyberts_pipeline::source::open(path).unwrap();
        let mut texts = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            texts.extend(chunk.texts);
        }
        texts
    };
    let wiki: Vec<PathBuf> = (0..41)
        .map(|f| {
            one.join(format!(
                "wikipedia/20220301.en/train-{f:05}-of-00041.parquet"
            ))
        })
        .collect();
    let articles: Vec<String> = wiki.iter().flat_map(|path| texts(path)).collect();
    assert_eq!(articles.len(), 3229, "6,458,670 × 0.0005");
    let mean = articles.iter().map(String::len).sum::<usize>() / articles.len();
    assert!(
        (2_600..3_700).contains(&mean),
        "mean article {mean} bytes (real: 3,143)"
    );
    assert!(articles.iter().any(|a| a.contains("\n\n")), "blocks apart");
    let lines = texts(&one.join("bookcorpus/bookcorpus.tar.bz2"));
    assert_eq!(lines.len(), 37_002, "74,004,228 × 0.0005");
    let mean = lines.iter().map(String::len).sum::<usize>() / lines.len();
    // The sample corpus alone has short lines (about 30 bytes); with the real text `make
    // rehearse` adds (../shared/data/bench) the mean is the real 65.
    assert!((20..100).contains(&mean), "mean line {mean} bytes");
    assert!(lines.iter().all(|l| *l == l.to_lowercase()));
    let csv = generate("2", "csv", true).join("wikipedia/wiki-sentences.csv");
    let sentences = texts(&csv);
    assert!(
        sentences.len() > 10 * articles.len(),
        "{} sentences",
        sentences.len()
    );
    let joined = articles.join(" ");
    assert!(sentences[..100].iter().all(|s| joined.contains(s.as_str())));
}
