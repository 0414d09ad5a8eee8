//! `pipeline fetch` against a real HTTP server on 127.0.0.1 with injected faults, and
//! `make data` end to end on the fixture corpus served that way.

use std::{fs, path::Path};

use earlyberts_format::sha256_hex;

use crate::{
    server::{Fault, Server},
    util::{Output, pipeline, run},
};

/// A temp dir with a sources file listing `files` (dest, server path, bytes) pinned by sha256.
struct Setup {
    root: tempfile::TempDir,
    server: Server,
}

impl Setup {
    fn new(files: &[(&str, &[u8])]) -> Setup {
        let root = tempfile::tempdir().unwrap();
        let server = Server::start();
        let mut sources = format!("[hosts]\nhf = \"{0}/hub\"\nmirror = \"{0}\"\n", server.base);
        for (name, bytes) in files {
            server.file(&format!("/files/{name}"), bytes);
            sources.push_str(&format!(
                "\n[[file]]\ngroup = \"test\"\ndest = \"{name}\"\nurl = \"{{mirror}}/files/{name}\"\nsize = {}\nsha256 = \"{}\"\n",
                bytes.len(),
                sha256_hex(bytes)
            ));
        }
        fs::write(root.path().join("sources.toml"), sources).unwrap();
        Setup { root, server }
    }

    fn data(&self) -> std::path::PathBuf {
        self.root.path().join("data")
    }

    fn fetch(&self, extra: &[&str]) -> Output {
        run(pipeline()
            .env("EARLYBERTS_FETCH_BACKOFF_MS", "10")
            .env_remove("EARLYBERTS_OFFLINE")
            .env_remove("HF_ENDPOINT")
            .args(["fetch", "--tries", "4", "--sources"])
            .arg(self.root.path().join("sources.toml"))
            .arg("--lock-file")
            .arg(self.root.path().join("sources.lock"))
            .arg("--data-dir")
            .arg(self.data())
            .args(extra))
    }

    /// Nothing under a final name is wrong or partial.
    fn assert_no_bad_final_files(&self, files: &[(&str, &[u8])]) {
        for (name, bytes) in files {
            let path = self.data().join(name);
            if path.exists() {
                assert_eq!(
                    &fs::read(&path).unwrap(),
                    bytes,
                    "{name} is under its final name but wrong"
                );
            }
        }
    }
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn clean_download_then_already_present() {
    let data = payload(300_000);
    let files = [("a/one.bin", &data[..])];
    let s = Setup::new(&files);
    s.fetch(&[])
        .expect_code(0)
        .expect_output("fetched 1 files, 0 already present");
    assert_eq!(fs::read(s.data().join("a/one.bin")).unwrap(), data);
    let requests = s.server.log().len();
    s.fetch(&[])
        .expect_code(0)
        .expect_output("up to date: 1 files present and verified");
    assert_eq!(
        s.server.log().len(),
        requests,
        "a present file is re-hashed, not re-downloaded"
    );
    assert!(s.data().join("fetched.json").exists());
}

#[test]
fn dropped_connection_resumes_with_range() {
    let data = payload(500_000);
    let files = [("big.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.fault("/files/big.bin", Fault::DropAfter(123_456));
    s.fetch(&[]).expect_code(0);
    assert_eq!(fs::read(s.data().join("big.bin")).unwrap(), data);
    let log = s.server.log();
    assert!(
        log.iter().any(|l| l.contains("range=Some(123456)")),
        "{log:?}"
    );
}

#[test]
fn server_ignoring_range_restarts_cleanly() {
    let data = payload(400_000);
    let files = [("big.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.fault("/files/big.bin", Fault::DropAfter(100_000));
    s.server.fault("/files/big.bin", Fault::IgnoreRange);
    s.fetch(&[]).expect_code(0);
    assert_eq!(fs::read(s.data().join("big.bin")).unwrap(), data);
}

#[test]
fn transient_errors_are_retried() {
    let data = payload(1000);
    let files = [("x.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.fault("/files/x.bin", Fault::Status(503, None));
    s.server.fault("/files/x.bin", Fault::Status(503, None));
    s.fetch(&[]).expect_code(0);
    assert_eq!(s.server.log().len(), 3);
    // 429 with Retry-After: 1 → the retry waits at least a second.
    let s = Setup::new(&files);
    s.server.fault("/files/x.bin", Fault::Status(429, Some(1)));
    let started = std::time::Instant::now();
    s.fetch(&[]).expect_code(0);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[test]
fn not_found_fails_at_once() {
    let data = payload(10);
    let files = [("x.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.file("/files/x.bin", b""); // replaced below by a 404: remove the file
    s.server.always("/files/x.bin", Fault::Status(404, None));
    let out = s.fetch(&[]).expect_code(2).expect_output("HTTP 404");
    assert_eq!(
        s.server.log().len(),
        1,
        "no retry storm on 404\n{}",
        out.dump()
    );
    assert!(!s.data().join("x.bin").exists());
}

#[test]
fn wrong_bytes_leave_nothing_behind() {
    let data = payload(5000);
    let files = [("x.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.always(
        "/files/x.bin",
        Fault::WrongBytes(payload(5000).into_iter().rev().collect()),
    );
    s.fetch(&[])
        .expect_code(2)
        .expect_output("sha256 mismatch: expected");
    assert!(!s.data().join("x.bin").exists());
    assert!(
        !s.data().join("x.bin.part").exists(),
        "the bad .part is removed"
    );
}

#[test]
fn truncated_bodies_never_become_final_files() {
    let data = payload(50_000);
    let files = [("x.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.always("/files/x.bin", Fault::DropAfter(10_000));
    s.fetch(&[])
        .expect_code(2)
        .expect_output("gave up after 4 attempts");
    assert!(!s.data().join("x.bin").exists());
    s.assert_no_bad_final_files(&files);
}

#[test]
fn offline_uses_only_what_is_present() {
    let data = payload(2000);
    let files = [("x.bin", &data[..])];
    let s = Setup::new(&files);
    s.fetch(&["--offline"])
        .expect_code(2)
        .expect_output("missing, and fetching is offline");
    assert!(s.server.log().is_empty());
    s.fetch(&[]).expect_code(0);
    let out = run(pipeline()
        .env("EARLYBERTS_OFFLINE", "1")
        .args(["fetch", "--sources"])
        .arg(s.root.path().join("sources.toml"))
        .arg("--lock-file")
        .arg(s.root.path().join("sources.lock"))
        .arg("--data-dir")
        .arg(s.data()));
    out.expect_code(0).expect_output("up to date");
}

#[test]
fn parallel_downloads() {
    let blobs: Vec<Vec<u8>> = (0..8).map(|i| payload(100_000 + i * 1000)).collect();
    let names: Vec<String> = (0..8).map(|i| format!("p/{i}.bin")).collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&blobs)
        .map(|(n, b)| (n.as_str(), &b[..]))
        .collect();
    let s = Setup::new(&files);
    s.fetch(&["--jobs", "4"])
        .expect_code(0)
        .expect_output("fetched 8 files");
    for (name, bytes) in &files {
        assert_eq!(&fs::read(s.data().join(name)).unwrap(), bytes);
    }
}

#[test]
fn lock_records_the_hubs_hashes_and_fetch_verifies_them() {
    let s = Setup::new(&[]);
    let big = payload(70_000);
    let small = b"{\"hidden_size\": 768}\n".to_vec();
    let git_sha1 = {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        h.update(format!("blob {}\0", small.len()));
        h.update(&small);
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    s.server.file(
        "/hub/api/models/org/model/revision/main",
        b"{\"sha\": \"c0ffee\"}",
    );
    let tree = serde_json::json!([
        {"type": "file", "path": "config.json", "size": small.len(), "oid": git_sha1},
        {"type": "file", "path": "model.bin", "size": 1234, "oid": "x", "lfs": {"oid": sha256_hex(&big), "size": big.len()}},
    ]);
    s.server.file(
        "/hub/api/models/org/model/tree/c0ffee/",
        tree.to_string().as_bytes(),
    );
    s.server
        .file("/hub/org/model/resolve/c0ffee/config.json", &small);
    s.server
        .file("/hub/org/model/resolve/c0ffee/model.bin", &big);
    let sources = fs::read_to_string(s.root.path().join("sources.toml")).unwrap()
        + "\n[[file]]\ngroup = \"m\"\ndest = \"m/config.json\"\nhub = { kind = \"model\", repo = \"org/model\", revision = \"main\", path = \"config.json\" }\n"
        + "\n[[file]]\ngroup = \"m\"\ndest = \"m/model.bin\"\nhub = { kind = \"model\", repo = \"org/model\", revision = \"main\", path = \"model.bin\" }\n";
    fs::write(s.root.path().join("sources.toml"), sources).unwrap();
    s.fetch(&[])
        .expect_code(2)
        .expect_output("not pinned or locked");
    s.fetch(&["--lock"])
        .expect_code(0)
        .expect_output("locked 2 files");
    let lock = fs::read_to_string(s.root.path().join("sources.lock")).unwrap();
    assert!(
        lock.contains(&sha256_hex(&big))
            && lock.contains(&git_sha1)
            && lock.contains("resolve/c0ffee/"),
        "{lock}"
    );
    s.fetch(&[]).expect_code(0).expect_output("fetched 2 files");
    assert_eq!(fs::read(s.data().join("m/model.bin")).unwrap(), big);
    // A Hub that serves other bytes than it published is caught.
    fs::remove_file(s.data().join("m/config.json")).unwrap();
    s.server.file(
        "/hub/org/model/resolve/c0ffee/config.json",
        b"{\"hidden_size\": 769}\n",
    );
    s.fetch(&[])
        .expect_code(2)
        .expect_output("git blob sha1 mismatch");
    s.fetch(&["--mirror", "nowhere=http://x"])
        .expect_code(2)
        .expect_output("--mirror names host 'nowhere'");
}

#[test]
fn token_goes_to_the_hub_only_and_mirrors_redirect() {
    let data = payload(100);
    let files = [("plain.bin", &data[..])];
    let s = Setup::new(&files);
    s.server.file("/hub/datasets/r/resolve/c/x.bin", &data);
    let sources = fs::read_to_string(s.root.path().join("sources.toml")).unwrap()
        + &format!(
            "\n[[file]]\ngroup = \"test\"\ndest = \"hub.bin\"\nurl = \"{{hf}}/datasets/r/resolve/c/x.bin\"\nsha256 = \"{}\"\n",
            sha256_hex(&data)
        );
    fs::write(s.root.path().join("sources.toml"), sources).unwrap();
    run(pipeline()
        .env("HF_TOKEN", "s3cret")
        .args(["fetch", "--sources"])
        .arg(s.root.path().join("sources.toml"))
        .arg("--lock-file")
        .arg(s.root.path().join("none.lock"))
        .arg("--data-dir")
        .arg(s.data()))
    .expect_code(0);
    let log = s.server.log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("/hub/datasets/r/resolve/c/x.bin")
                && l.ends_with("auth=Bearer s3cret")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("/files/plain.bin") && !l.contains("auth=")),
        "{log:?}"
    );
    // --mirror sends the `mirror` host's files elsewhere: here, a server that has none.
    let other = Server::start();
    fs::remove_dir_all(s.data()).unwrap();
    s.fetch(&["--mirror", &format!("mirror={}", other.base)])
        .expect_code(2)
        .expect_output("HTTP 404");
    assert!(
        other
            .log()
            .iter()
            .any(|l| l.starts_with("/files/plain.bin"))
    );
}

#[test]
fn make_data_end_to_end_on_the_fixture() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inputs = tempfile::tempdir().unwrap();
    run(pipeline()
        .arg("fixture")
        .arg("--corpus")
        .arg(repo.join("tests/fixtures/corpus"))
        .arg("--out")
        .arg(inputs.path()))
    .expect_code(0);
    let wiki = fs::read(inputs.path().join("wikipedia/train-00000-of-00001.parquet")).unwrap();
    let books = fs::read(inputs.path().join("bookcorpus/bookcorpus.tar.bz2")).unwrap();
    let files = [
        (
            "wikipedia/20220301.en/train-00000-of-00001.parquet",
            &wiki[..],
        ),
        ("bookcorpus/bookcorpus.tar.bz2", &books[..]),
    ];
    let s = Setup::new(&files);
    // The reference recipe where spaCy runs, else the keyed one.
    let recipe = match crate::util::spacy_args() {
        Some(flags) => vec![format!("SPACY_FLAGS={}", flags.join(" "))],
        None => vec!["RECIPE=manifests/recipes/earlyberts-keyed.toml".to_string()],
    };
    let make = |s: &Setup| {
        run(std::process::Command::new("make")
            .args(&recipe)
            .current_dir(&repo)
            .env("EARLYBERTS_FETCH_BACKOFF_MS", "10")
            .arg("--no-print-directory")
            .arg("data")
            .arg(format!("DATA={}", s.root.path().join("data").display()))
            .arg(format!(
                "SOURCES={}",
                s.root.path().join("sources.toml").display()
            ))
            .arg("SEEDS=1 3")
            .arg("CORPUS=fixture")
            .arg(format!("PIPELINE={}", env!("CARGO_BIN_EXE_pipeline")))
            .arg("BUILD_PIPELINE=true"))
    };
    if std::process::Command::new("make")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: make is not installed");
        return;
    }
    let out = make(&s).expect_code(0);
    assert_eq!(
        out.stdout.matches("matches golden").count(),
        2,
        "{}",
        out.dump()
    );
    let out = make(&s)
        .expect_code(0)
        .expect_output("up to date: 2 files present and verified");
    assert_eq!(
        out.stderr
            .matches("examples: up to date and verified")
            .count(),
        2,
        "{}",
        out.dump()
    );
}
