//! A generated corpus of the real sources' shape and size (`pipeline fixture --synthetic
//! SCALE`), for a rehearsal of `make data` before anything is downloaded.
//!
//! At `SCALE = 1` it is as large as the real corpus: English Wikipedia 20220301.en as the
//! Hugging Face builder wrote it (41 parquet files, columns `id, url, title, text`, 6.46 M
//! articles, 20.3 GB of text) and BookCorpus as its original archive (`bookcorpus.tar.bz2`:
//! `books_large_p1.txt`, `books_large_p2.txt`, 74.0 M lines, 4.85 GB). Article lengths are
//! log-normal with the real mean and a long tail (a few thousand articles over 100 KB);
//! articles have a lead, sections under short heading lines, paragraphs and now and then a
//! list of short lines, laid out as the builder lays them out (blocks separated by a blank
//! line). BookCorpus lines are lower-cased with punctuation spaced off, as the real ones.
//!
//! The text is made of real sentences (the bundled sample corpus and any `--text` files),
//! cut at a word boundary and joined to other sentences' tails, with invented words mixed in:
//! every sentence is new, so the splitter and the tokenizer work as on real text, but the
//! words are real words. Each Wikipedia file and each BookCorpus block of lines is drawn
//! from a random stream of its own (`(seed, "corpus", index)`, docs/DETERMINISM.md), so the
//! bytes are the same for any number of threads. Files are written under a temporary name
//! and renamed when complete.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use earlyberts_format::{
    AtomicFile,
    random::{Stage, Stream},
};
use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};
use rayon::prelude::*;

use crate::{
    Error, Result,
    source::{self, fixture::FixtureCorpus},
    split::{LineBreaks, RuleSplitter, sentences},
};

/// English Wikipedia 20220301.en as the Hugging Face builder wrote it.
pub const WIKI_ARTICLES: u64 = 6_458_670;
pub const WIKI_FILES: usize = 41;
pub const WIKI_TEXT_BYTES: f64 = 20.3e9;
/// The original BookCorpus archive.
pub const BOOK_LINES: u64 = 74_004_228;
/// Lines in `books_large_p1.txt`; the rest are in `books_large_p2.txt`.
const BOOK_LINES_P1: u64 = 40_000_000;

/// The spread of ln(article length): with the real mean this gives a median near 1.5 KB and
/// a few thousand articles over 100 KB, as in Wikipedia.
const LENGTH_SIGMA: f64 = 1.25;
const MAX_ARTICLE_BYTES: f64 = 1.5e6;
/// Articles per parquet record batch; a row group is flushed after each.
const ARTICLES_PER_BATCH: usize = 4096;
/// BookCorpus lines per random stream and per bzip2 stream of the archive.
const BOOK_BLOCK_LINES: u64 = 250_000;
/// The stream index of BookCorpus block 0 (Wikipedia's files take 0–40).
const BOOK_STREAMS: u64 = 1 << 32;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticCorpus {
    /// 1.0: the real size.
    pub scale: f64,
    pub seed: u64,
    /// Wikipedia as the reference's sentence cache (`wiki-sentences.csv`, one sentence a
    /// record), for a build of the reference recipe from given rows, instead of parquet.
    pub sentences: bool,
}

/// What [`SyntheticCorpus::write`] wrote.
#[derive(Debug, Default)]
pub struct SyntheticFiles {
    /// The Wikipedia parquet files, or the one `wiki-sentences.csv`.
    pub wikipedia: Vec<PathBuf>,
    pub bookcorpus_archive: PathBuf,
    pub articles: u64,
    pub wikipedia_text_bytes: u64,
    pub book_lines: u64,
    pub book_text_bytes: u64,
}

impl SyntheticCorpus {
    fn articles(&self) -> u64 {
        ((WIKI_ARTICLES as f64 * self.scale).round() as u64).max(WIKI_FILES as u64)
    }

    fn book_lines(&self) -> u64 {
        ((BOOK_LINES as f64 * self.scale).round() as u64).max(2)
    }

    /// Writes the corpus under `out` as `pipeline fetch` lays it down:
    /// `wikipedia/20220301.en/train-000NN-of-00041.parquet` (or `wikipedia/wiki-sentences.csv`)
    /// and `bookcorpus/bookcorpus.tar.bz2`.
    pub fn write(&self, pool: &TextPool, out: &Path) -> Result<SyntheticFiles> {
        let mut files = SyntheticFiles::default();
        let per_file = |f: u64| self.articles() * f / WIKI_FILES as u64;
        if self.sentences {
            let path = out.join("wikipedia/wiki-sentences.csv");
            let (articles, bytes) = write_sentence_csv(self, pool, &path, per_file)?;
            (files.articles, files.wikipedia_text_bytes) = (articles, bytes);
            files.wikipedia.push(path);
        } else {
            let written: Vec<(PathBuf, u64)> = (0..WIKI_FILES)
                .into_par_iter()
                .map(|f| {
                    let path = out.join(format!(
                        "wikipedia/20220301.en/train-{f:05}-of-{WIKI_FILES:05}.parquet"
                    ));
                    let articles = per_file(f as u64)..per_file(f as u64 + 1);
                    let bytes = write_wiki_file(self.seed, pool, f, articles, &path)?;
                    Ok((path, bytes))
                })
                .collect::<Result<_>>()?;
            files.articles = self.articles();
            for (path, bytes) in written {
                files.wikipedia.push(path);
                files.wikipedia_text_bytes += bytes;
            }
        }
        files.bookcorpus_archive = out.join("bookcorpus/bookcorpus.tar.bz2");
        files.book_lines = self.book_lines();
        files.book_text_bytes = write_book_archive(
            self.seed,
            pool,
            self.book_lines(),
            &files.bookcorpus_archive,
        )?;
        Ok(files)
    }
}

/// Real sentences to recombine, and words for titles, headings and list items.
pub struct TextPool {
    wiki: Vec<PoolSentence>,
    books: Vec<PoolSentence>,
    words: Vec<String>,
}

/// A sentence and the byte offsets of its spaces (where it may be cut).
struct PoolSentence {
    text: String,
    spaces: Vec<u32>,
}

impl PoolSentence {
    fn new(text: &str) -> Option<PoolSentence> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let spaces: Vec<u32> = text.match_indices(' ').map(|(i, _)| i as u32).collect();
        (spaces.len() >= 2 && text.len() <= 600).then_some(PoolSentence { text, spaces })
    }
}

impl TextPool {
    /// The sentences of the bundled sample corpus and of `texts`: `.parquet` files (column
    /// `text`, articles), `.conllu` files (their `# text = ` lines) or prose (wrapped lines,
    /// paragraphs between blank lines, as a Project Gutenberg book).
    pub fn new(texts: &[PathBuf]) -> Result<TextPool> {
        let sample = FixtureCorpus::bundled();
        let rules = RuleSplitter::new(LineBreaks::Paragraph);
        let mut wiki: Vec<String> = Vec::new();
        for article in source::fixture::parse_articles(&sample.wikipedia) {
            wiki.extend(
                sentences(&rules, &article.text)
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        for path in texts {
            wiki.extend(read_sentences(path)?);
        }
        let mut books: Vec<String> = sample.bookcorpus.lines().map(str::to_owned).collect();
        books.extend(wiki.iter().map(|s| book_style(s)));
        let mut words: Vec<String> = wiki
            .iter()
            .flat_map(|s| s.split(' '))
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| w.len() >= 3 && w.chars().all(char::is_alphabetic))
            .map(str::to_owned)
            .collect();
        words.sort_unstable();
        words.dedup();
        let keep = |texts: Vec<String>| -> Vec<PoolSentence> {
            texts.iter().filter_map(|t| PoolSentence::new(t)).collect()
        };
        Ok(TextPool {
            wiki: keep(wiki),
            books: keep(books),
            words,
        })
    }

    /// How many sentences it recombines (Wikipedia's, BookCorpus's).
    pub fn sizes(&self) -> (usize, usize) {
        (self.wiki.len(), self.books.len())
    }
}

/// The sentences of one `--text` file.
fn read_sentences(path: &Path) -> Result<Vec<String>> {
    let name = path.to_string_lossy();
    if name.ends_with(".parquet") {
        let rules = RuleSplitter::new(LineBreaks::Paragraph);
        let mut reader = source::open(path)?;
        let mut out = Vec::new();
        while let Some(chunk) = reader.next_chunk()? {
            for text in &chunk.texts {
                out.extend(sentences(&rules, text).into_iter().map(str::to_owned));
            }
        }
        return Ok(out);
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let lines = BufReader::new(file)
        .lines()
        .collect::<std::io::Result<Vec<String>>>()
        .map_err(|e| Error::io(path, e))?;
    if name.ends_with(".conllu") {
        let texts = lines.iter().filter_map(|l| l.strip_prefix("# text = "));
        return Ok(texts.map(str::to_owned).collect());
    }
    let rules = RuleSplitter::new(LineBreaks::Wrapped);
    let text = lines.join("\n");
    Ok(sentences(&rules, &text)
        .into_iter()
        .map(str::to_owned)
        .collect())
}

/// A sentence as BookCorpus writes its lines: lower-cased, punctuation spaced off.
fn book_style(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len() + 16);
    for c in sentence.chars().flat_map(char::to_lowercase) {
        if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '"' | '(' | ')') {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "ren", "vi", "mar", "tho", "sel", "dun", "bri", "ast", "el", "ou", "quin", "zor",
    "ha", "mi", "gat", "us", "ber", "ny", "cal", "dre", "op", "wen",
];

const HEADINGS: [&str; 24] = [
    "History",
    "Early life",
    "Career",
    "Geography",
    "Personal life",
    "Background",
    "Reception",
    "Legacy",
    "Description",
    "Biography",
    "Plot",
    "Production",
    "Etymology",
    "Demographics",
    "Education",
    "Works",
    "Awards and honours",
    "Politics",
    "Economy",
    "Climate",
    "Release",
    "Track listing",
    "Later years",
    "Honours",
];

/// Draws text from a [`TextPool`] with one random stream.
struct Writer<'p> {
    pool: &'p TextPool,
    rng: Stream,
}

impl Writer<'_> {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.below(items.len() as u64) as usize]
    }

    /// A word no dictionary has (`Quinelo`, `marthosel`): the long tail of names.
    fn invented(&mut self, out: &mut String, capital: bool) {
        let start = out.len();
        for _ in 0..2 + self.rng.below(3) {
            out.push_str(self.pick::<&str>(&SYLLABLES));
        }
        if capital {
            out[start..start + 1].make_ascii_uppercase();
        }
    }

    /// A new sentence: the head of one pool sentence, sometimes the middle of a second, and
    /// the tail of a third, cut at spaces, with now and then an invented word between.
    fn sentence(&mut self, out: &mut String, books: bool) {
        let pool = if books {
            &self.pool.books
        } else {
            &self.pool.wiki
        };
        let pool: &[PoolSentence] = pool;
        // A BookCorpus line is short (65 bytes on average): a head and a tail from the
        // halves of two sentences.
        let head = self.pick(pool);
        let n = head.spaces.len() as u64;
        let at = if books {
            self.rng.below(n.div_ceil(2))
        } else {
            self.rng.below(n)
        };
        let cut = head.spaces[at as usize] as usize;
        out.push_str(&head.text[..cut]);
        if !books && self.rng.chance(0.5) {
            let middle = self.pick(pool);
            let from = middle.spaces[self.rng.below(middle.spaces.len() as u64 - 1) as usize];
            let to = middle.spaces[middle.spaces.len() - 1];
            out.push_str(&middle.text[from as usize..to as usize]);
        }
        if self.rng.chance(0.3) {
            out.push(' ');
            self.invented(out, !books);
        }
        let tail = self.pick(pool);
        let n = tail.spaces.len() as u64;
        let at = if books {
            n / 2 + self.rng.below(n - n / 2)
        } else {
            self.rng.below(n)
        };
        let cut = tail.spaces[at as usize] as usize;
        out.push_str(&tail.text[cut..]);
    }

    /// A few words, capitalised: a title, a heading, a list item.
    fn phrase(&mut self, out: &mut String, words: u64) {
        for i in 0..words {
            if i > 0 {
                out.push(' ');
            }
            if self.rng.chance(0.3) {
                self.invented(out, true);
            } else {
                let start = out.len();
                let pool = self.pool;
                out.push_str(self.pick::<String>(&pool.words));
                if i == 0 && out.is_char_boundary(start + 1) {
                    out[start..start + 1].make_ascii_uppercase();
                }
            }
        }
    }

    /// An article's length: log-normal with Wikipedia's mean.
    fn article_length(&mut self) -> usize {
        // Blocks are added until the length is reached: it ends this much past it on average.
        const OVERSHOOT: f64 = 390.0;
        let mean = WIKI_TEXT_BYTES / WIKI_ARTICLES as f64 - OVERSHOOT;
        let mu = mean.ln() - LENGTH_SIGMA * LENGTH_SIGMA / 2.0;
        let (u1, u2) = (self.rng.unit(), self.rng.unit());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (mu + LENGTH_SIGMA * z).exp().clamp(60.0, MAX_ARTICLE_BYTES) as usize
    }

    /// One article's title and its blocks (paragraphs, headings, lists), each block's
    /// sentences apart: the parquet text joins them, the sentence CSV lists them.
    fn article(&mut self) -> (String, Vec<Vec<String>>) {
        let mut title = String::new();
        let words = 1 + self.rng.below(3);
        self.phrase(&mut title, words);
        let target = self.article_length();
        let (mut blocks, mut length) = (Vec::new(), 0);
        while length < target {
            let block = match (blocks.is_empty(), self.rng.below(10)) {
                (false, 0 | 1) => vec![self.heading()],
                (false, 2) => self.list(),
                _ => self.paragraph(),
            };
            length += block.iter().map(|s| s.len() + 1).sum::<usize>() + 1;
            blocks.push(block);
        }
        (title, blocks)
    }

    fn heading(&mut self) -> String {
        if self.rng.chance(0.6) {
            self.pick(&HEADINGS).to_string()
        } else {
            let mut heading = String::new();
            let words = 1 + self.rng.below(3);
            self.phrase(&mut heading, words);
            heading
        }
    }

    fn list(&mut self) -> Vec<String> {
        (0..2 + self.rng.below(5))
            .map(|_| {
                let mut item = String::new();
                let words = 1 + self.rng.below(5);
                self.phrase(&mut item, words);
                item
            })
            .collect()
    }

    fn paragraph(&mut self) -> Vec<String> {
        (0..1 + self.rng.below(7))
            .map(|_| {
                let mut sentence = String::new();
                self.sentence(&mut sentence, false);
                sentence
            })
            .collect()
    }
}

/// An article's text as the builder writes it: a paragraph's sentences joined by spaces, a
/// list's items by line breaks, blocks by a blank line.
fn article_text(blocks: &[Vec<String>]) -> String {
    let mut text = String::new();
    for block in blocks {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let is_list = block.len() > 1 && !block[0].ends_with(['.', '!', '?', '"', ')']);
        text.push_str(&block.join(if is_list { "\n" } else { " " }));
    }
    text
}

/// Writes the articles `articles` (global indices) into Wikipedia file `f`; returns the
/// bytes of text written.
fn write_wiki_file(
    seed: u64,
    pool: &TextPool,
    f: usize,
    articles: std::ops::Range<u64>,
    path: &Path,
) -> Result<u64> {
    let fail = |e: parquet::errors::ParquetError| Error::Corpus {
        path: path.to_path_buf(),
        format: "parquet",
        reason: e.to_string(),
    };
    create_parent(path)?;
    let schema = Arc::new(Schema::new(
        ["id", "url", "title", "text"]
            .map(|name| Field::new(name, DataType::Utf8, false))
            .to_vec(),
    ));
    let props = WriterProperties::builder()
        .set_created_by("earlyberts synthetic corpus".into())
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(AtomicFile::create(path)?, schema.clone(), Some(props))
        .map_err(fail)?;
    let mut draw = Writer {
        pool,
        rng: Stream::new(seed, Stage::Corpus, f as u64),
    };
    let mut bytes = 0;
    let mut next = articles.start;
    while next < articles.end {
        let n = (articles.end - next).min(ARTICLES_PER_BATCH as u64);
        let mut columns: [Vec<String>; 4] = Default::default();
        for id in next..next + n {
            let (title, blocks) = draw.article();
            let text = article_text(&blocks);
            bytes += text.len() as u64;
            columns[0].push((id + 1).to_string());
            columns[1].push(format!(
                "https://en.wikipedia.org/wiki/{}",
                title.replace(' ', "_")
            ));
            columns[2].push(title);
            columns[3].push(text);
        }
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| fail(parquet::errors::ParquetError::External(Box::new(e))))?;
        writer.write(&batch).map_err(fail)?;
        writer.flush().map_err(fail)?;
        next += n;
    }
    writer.into_inner().map_err(fail)?.commit()?;
    Ok(bytes)
}

/// Writes every article's sentences, one quoted CSV record each, into `path` (as the
/// reference's `wiki-sentences.csv`); returns the articles and bytes of text written.
fn write_sentence_csv(
    corpus: &SyntheticCorpus,
    pool: &TextPool,
    path: &Path,
    per_file: impl Fn(u64) -> u64 + Sync,
) -> Result<(u64, u64)> {
    create_parent(path)?;
    let mut file = AtomicFile::create(path)?;
    file.write_all(b"\"text\"\n")?;
    let mut bytes = 0;
    // Files two at a time: each is drawn as its parquet twin would be, then written in order.
    for pair in (0..WIKI_FILES)
        .collect::<Vec<_>>()
        .chunks(rayon::current_num_threads())
    {
        let records: Vec<(Vec<u8>, u64)> = pair
            .par_iter()
            .map(|&f| {
                let mut draw = Writer {
                    pool,
                    rng: Stream::new(corpus.seed, Stage::Corpus, f as u64),
                };
                let (mut out, mut bytes) = (Vec::new(), 0);
                for _ in per_file(f as u64)..per_file(f as u64 + 1) {
                    let (_, blocks) = draw.article();
                    for sentence in blocks.iter().flatten() {
                        bytes += sentence.len() as u64;
                        out.push(b'"');
                        out.extend_from_slice(sentence.replace('"', "\"\"").as_bytes());
                        out.extend_from_slice(b"\"\n");
                    }
                }
                (out, bytes)
            })
            .collect();
        for (out, n) in records {
            file.write_all(&out)?;
            bytes += n;
        }
    }
    file.commit()?;
    Ok((corpus.articles(), bytes))
}

/// `n` BookCorpus lines from random stream `stream`, each followed by a line break.
fn book_block(seed: u64, pool: &TextPool, stream: u64, n: u64) -> Vec<u8> {
    let mut draw = Writer {
        pool,
        rng: Stream::new(seed, Stage::Corpus, stream),
    };
    let mut line = String::new();
    let mut out = Vec::with_capacity(n as usize * 72);
    for _ in 0..n {
        line.clear();
        draw.sentence(&mut line, true);
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Writes `lines` BookCorpus lines as `bookcorpus.tar.bz2` (two text files, as the original).
/// Each block of lines is compressed on its own (a concatenation of bzip2 streams, which
/// bzip2 and the reader take as one), in parallel; returns the bytes of text.
fn write_book_archive(seed: u64, pool: &TextPool, lines: u64, path: &Path) -> Result<u64> {
    create_parent(path)?;
    let p1 = ((u128::from(lines) * u128::from(BOOK_LINES_P1) / u128::from(BOOK_LINES)) as u64)
        .clamp(1, lines - 1);
    // Blocks `(stream index, lines)`: p1's, then p2's, numbered on.
    let blocks_of = |first_block: u64, lines: u64| -> Vec<(u64, u64)> {
        let n = lines.div_ceil(BOOK_BLOCK_LINES);
        (0..n)
            .map(|b| {
                let len = (lines - b * BOOK_BLOCK_LINES).min(BOOK_BLOCK_LINES);
                (BOOK_STREAMS + first_block + b, len)
            })
            .collect()
    };
    let p1_blocks = blocks_of(0, p1);
    let files = [
        ("books_large_p1.txt", blocks_of(0, p1)),
        (
            "books_large_p2.txt",
            blocks_of(p1_blocks.len() as u64, lines - p1),
        ),
    ];
    let mut archive = AtomicFile::create(path)?;
    let mut text_bytes = 0;
    for (i, (name, blocks)) in files.iter().enumerate() {
        // The tar header needs the file's size first: the blocks are drawn twice.
        let size: u64 = blocks
            .par_iter()
            .map(|&(stream, n)| book_block(seed, pool, stream, n).len() as u64)
            .sum();
        text_bytes += size;
        let mut header = tar::Header::new_gnu();
        header.set_path(name).map_err(|e| Error::io(path, e))?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        archive.write_all(&bzip2_stream(header.as_bytes()))?;
        for window in blocks.chunks(2 * rayon::current_num_threads()) {
            let compressed: Vec<Vec<u8>> = window
                .par_iter()
                .map(|&(stream, n)| bzip2_stream(&book_block(seed, pool, stream, n)))
                .collect();
            for stream in compressed {
                archive.write_all(&stream)?;
            }
        }
        let mut tail = vec![0u8; (512 - size % 512) as usize % 512];
        if i + 1 == files.len() {
            tail.extend_from_slice(&[0u8; 1024]);
        }
        archive.write_all(&bzip2_stream(&tail))?;
    }
    archive.commit()?;
    Ok(text_bytes)
}

/// `bytes` as one bzip2 stream, at level 9 (900 kB blocks) as the real archive: decoding it
/// costs a build what the real one costs.
fn bzip2_stream(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        bzip2::Compression::best(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory cannot fail")
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) => fs::create_dir_all(dir).map_err(|e| Error::io(dir, e)),
        None => Ok(()),
    }
}
