//! The bundled fixture corpus (`tests/fixtures/corpus/`, compiled into the binary), written in
//! the published input formats: Wikipedia and BookCorpus parquet, and a BookCorpus `.tar.bz2`
//! archive.
//!
//! Output bytes are deterministic (fixed parquet `created_by`, tar headers with mtime 0), so
//! the fixture's input sha256s are stable.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
    sync::Arc,
};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};

use crate::{Error, Result};

/// The files written by [`write_fixture`].
#[derive(Debug)]
pub struct FixtureFiles {
    pub wikipedia_parquet: PathBuf,
    pub bookcorpus_parquet: PathBuf,
    pub bookcorpus_archive: PathBuf,
}

/// The texts of a fixture corpus: `wikipedia.txt` (articles) and `bookcorpus.txt` (rows).
pub struct FixtureCorpus {
    pub wikipedia: String,
    pub bookcorpus: String,
}

impl FixtureCorpus {
    /// The sample corpus of `tests/fixtures/corpus/`, as compiled in: the binary writes it
    /// from any directory.
    pub fn bundled() -> FixtureCorpus {
        FixtureCorpus {
            wikipedia: include_str!("../../../tests/fixtures/corpus/wikipedia.txt").into(),
            bookcorpus: include_str!("../../../tests/fixtures/corpus/bookcorpus.txt").into(),
        }
    }

    /// The corpus in `dir` (`wikipedia.txt`, `bookcorpus.txt`).
    pub fn read(dir: &Path) -> Result<FixtureCorpus> {
        let read = |name: &str| {
            let path = dir.join(name);
            fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
        };
        Ok(FixtureCorpus {
            wikipedia: read("wikipedia.txt")?,
            bookcorpus: read("bookcorpus.txt")?,
        })
    }
}

/// Writes `corpus` under `out`.
pub fn write_fixture(corpus: &FixtureCorpus, out: &Path) -> Result<FixtureFiles> {
    let articles = parse_articles(&corpus.wikipedia);
    let rows: Vec<String> = corpus.bookcorpus.lines().map(str::to_owned).collect();
    let files = FixtureFiles {
        wikipedia_parquet: out.join("wikipedia/train-00000-of-00001.parquet"),
        bookcorpus_parquet: out.join("bookcorpus/train-00000-of-00001.parquet"),
        bookcorpus_archive: out.join("bookcorpus/bookcorpus.tar.bz2"),
    };
    let column = |values: Vec<String>| Arc::new(StringArray::from(values)) as ArrayRef;
    // Batches of at most BATCH_TEXT_BYTES of text: a string column's offsets are 32-bit.
    let article_batches = batches(&articles, |a| a.text.len()).map(|articles| {
        let url = |a: &Article| {
            format!(
                "https://en.wikipedia.org/wiki/{}",
                a.title.replace(' ', "_")
            )
        };
        vec![
            (
                "id",
                column(articles.iter().map(|a| a.id.clone()).collect()),
            ),
            ("url", column(articles.iter().map(url).collect())),
            (
                "title",
                column(articles.iter().map(|a| a.title.clone()).collect()),
            ),
            (
                "text",
                column(articles.iter().map(|a| a.text.clone()).collect()),
            ),
        ]
    });
    write_parquet_batches(&files.wikipedia_parquet, article_batches)?;
    let row_batches = batches(&rows, String::len).map(|rows| vec![("text", column(rows.to_vec()))]);
    write_parquet_batches(&files.bookcorpus_parquet, row_batches)?;
    let half = rows.len() / 2;
    write_archive(
        &files.bookcorpus_archive,
        &[
            ("books_large_p1.txt", &rows[..half]),
            ("books_large_p2.txt", &rows[half..]),
        ],
    )?;
    Ok(files)
}

pub(crate) struct Article {
    pub id: String,
    pub title: String,
    pub text: String,
}

/// Articles start at lines `### <id> <title>`.
pub(crate) fn parse_articles(text: &str) -> Vec<Article> {
    let mut articles: Vec<Article> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("### ") {
            let (id, title) = header.split_once(' ').unwrap_or((header, ""));
            articles.push(Article {
                id: id.to_string(),
                title: title.to_string(),
                text: String::new(),
            });
        } else if let Some(article) = articles.last_mut() {
            if !article.text.is_empty() {
                article.text.push('\n');
            }
            article.text.push_str(line);
        }
    }
    for article in &mut articles {
        article.text.truncate(article.text.trim_end().len());
    }
    articles
}

/// Text bytes per record batch of a fixture file (a string column's offsets are i32).
const BATCH_TEXT_BYTES: usize = 1 << 29;

/// `items` in consecutive runs of at most [`BATCH_TEXT_BYTES`] of `len` (one run for a
/// small corpus, which keeps the sample fixture's bytes).
fn batches<T>(items: &[T], len: impl Fn(&T) -> usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len() && (n == 0 || bytes + len(&rest[n]) <= BATCH_TEXT_BYTES) {
            bytes += len(&rest[n]);
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

/// Writes string columns to a parquet file (snappy-compressed, as the Hub's files are).
pub fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) -> Result<()> {
    write_parquet_batches(path, std::iter::once(columns))
}

/// Writes record batches of the same string columns to one parquet file.
pub fn write_parquet_batches<'a>(
    path: &Path,
    mut batches: impl Iterator<Item = Vec<(&'a str, ArrayRef)>>,
) -> Result<()> {
    let Some(columns) = batches.next() else {
        return Ok(());
    };
    let fail = |reason: String| Error::Corpus {
        path: path.to_path_buf(),
        format: "parquet",
        reason,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, column)| {
                Field::new(*name, column.data_type().clone(), column.null_count() > 0)
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, c)| c).collect(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_created_by("earlyberts fixture".into())
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer =
        ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| fail(e.to_string()))?;
    writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    for columns in batches {
        let batch = RecordBatch::try_new(
            schema.clone(),
            columns.into_iter().map(|(_, c)| c).collect(),
        )
        .map_err(|e| fail(e.to_string()))?;
        writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    }
    writer.close().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Writes text files of rows (one per line) into a `.tar.bz2` archive.
pub fn write_archive(path: &Path, files: &[(&str, &[String])]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let io = |e| Error::io(path, e);
    let file = File::create(path).map_err(io)?;
    let mut archive = tar::Builder::new(bzip2::write::BzEncoder::new(
        file,
        bzip2::Compression::best(),
    ));
    for (name, rows) in files {
        let mut data = rows.join("\n");
        data.push('\n');
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        archive
            .append_data(&mut header, name, data.as_bytes())
            .map_err(io)?;
    }
    archive
        .into_inner()
        .and_then(|bz| bz.finish())
        .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_offset_limit_and_keep_every_item() {
        let half = BATCH_TEXT_BYTES / 2;
        let sizes = [10, half, half, 1, BATCH_TEXT_BYTES + 5, 3];
        let runs: Vec<&[usize]> = batches(&sizes, |&n| n).collect();
        assert_eq!(
            runs,
            vec![&sizes[..2], &sizes[2..4], &sizes[4..5], &sizes[5..]]
        );
        assert_eq!(
            batches(&[1usize, 2, 3], |&n| n).count(),
            1,
            "a small corpus: one batch"
        );
        assert_eq!(batches(&[] as &[usize], |&n| n).count(), 0);
    }
}
