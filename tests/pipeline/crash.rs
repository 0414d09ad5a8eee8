//! Crash safety of `pipeline build`: killed with SIGKILL at points spread over a fixture build,
//! then re-run, it finishes with the uninterrupted build's manifest and no temporary or
//! partial file left; a re-run keeps the shards a killed run finished; SIGTERM stops with a
//! message; a full disk (a file-size limit) is a one-line error naming the file, and a re-run
//! with space succeeds; a build too big for its filesystem (a tmpfs, as root) is refused
//! before it writes, saying how much more it needs; two builds into one directory at once: the second is refused; a
//! killed `prepare` resumes after its last committed store shard.
//!
//! `make test` runs 5 kill points; `EARLYBERTS_KILL_POINTS=20` (`make test-slow`) runs more.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use crate::util::{Output, SampleInputs, keyed_recipe, pipeline_run, run};

/// `pipeline build` of seed 1 into `out` (its own store inside), 8 examples per shard.
fn command(fx: &SampleInputs, out: &str) -> Command {
    let mut command = fx.build_command(&keyed_recipe(), 1, out);
    command.args(["--quiet", "--examples-per-shard", "8"]);
    command
}

fn build(fx: &SampleInputs, out: &str) -> Output {
    run(&mut command(fx, out))
}

/// Every file under `dir` whose name says it is unfinished.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(leftovers(&path));
        } else if path.extension().is_some_and(|e| e == "tmp" || e == "part")
            || path.file_name().is_some_and(|n| n == "partial.json")
        {
            found.push(path);
        }
    }
    found
}

fn kill_points() -> usize {
    std::env::var("EARLYBERTS_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

#[test]
fn killed_builds_resume_to_identical_bytes() {
    let fx = SampleInputs::new();
    let started = Instant::now();
    build(&fx, "reference").expect_code(0);
    let duration = started.elapsed();
    let reference = fx.manifest("reference");
    let n = kill_points();
    let mut killed_during = Vec::new();
    for i in 1..=n {
        let out = format!("killed{i}");
        // Spread over the whole build, with a deterministic jitter of up to ±25% of a gap.
        let gap = duration.as_secs_f64() / (n + 1) as f64;
        let jitter = ((i * 7919) % 100) as f64 / 100.0 - 0.5;
        let at = Duration::from_secs_f64((gap * (i as f64 + jitter * 0.5)).max(0.0));
        let mut child = command(&fx, &out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        killed_during.push(if finished { "after the end" } else { "during" });
        build(&fx, &out).expect_code(0);
        assert_eq!(
            fx.manifest(&out),
            reference,
            "kill point {i} ({at:?}) gave another build"
        );
        assert_eq!(leftovers(&fx.path(&out)), Vec::<PathBuf>::new());
        pipeline_run([
            "verify".as_ref(),
            fx.path(&out).as_os_str(),
            "--golden".as_ref(),
            fx.path("reference/manifest.json").as_os_str(),
        ])
        .expect_code(0);
    }
    eprintln!(
        "{n} kill points over a {:.2} s build: {} during the build",
        duration.as_secs_f64(),
        killed_during.iter().filter(|k| **k == "during").count()
    );
}

/// Runs `command` (output discarded) and SIGKILLs it as soon as `file` exists, or lets it
/// end if it never does.
fn kill_once_written(command: &mut Command, file: &Path) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !file.exists() && child.try_wait().unwrap().is_none() {
        sleep(Duration::from_micros(200));
    }
    child.kill().ok();
    child.wait().unwrap();
}

/// The `partial.json` a build of `out` writes while it runs (caught by killing it then).
fn plan_of_a_killed_run(fx: &SampleInputs, out: &str) -> Vec<u8> {
    let plan = fx.path(out).join("partial.json");
    for _ in 0..20 {
        let _ = fs::remove_dir_all(fx.path(out));
        kill_once_written(command(fx, out).env("RAYON_NUM_THREADS", "1"), &plan);
        if let Ok(bytes) = fs::read(&plan) {
            return bytes;
        }
    }
    panic!("no run was caught between writing its plan and committing");
}

#[test]
fn a_rerun_keeps_the_shards_a_killed_run_finished() {
    let fx = SampleInputs::new();
    let plan = plan_of_a_killed_run(&fx, "b");
    build(&fx, "b").expect_code(0);
    let reference = fx.manifest("b");
    let mut shards: Vec<PathBuf> = fs::read_dir(fx.path("b/shards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shards.sort();
    assert!(shards.len() > 10, "{} shards", shards.len());
    // What a killed run leaves: its plan, no manifest, finished shards, a missing shard, a
    // temporary file; and a damaged shard for good measure.
    fs::write(fx.path("b/partial.json"), &plan).unwrap();
    fs::remove_file(fx.path("b/manifest.json")).unwrap();
    fs::remove_file(&shards[3]).unwrap();
    fs::write(shards[5].with_extension("zst.tmp"), b"half a shard").unwrap();
    let damaged = fs::read(&shards[7]).unwrap();
    fs::write(&shards[7], &damaged[..damaged.len() / 2]).unwrap();
    let stamp = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    let before: Vec<_> = shards
        .iter()
        .map(|p| p.exists().then(|| stamp(p)))
        .collect();
    sleep(Duration::from_millis(20));
    build(&fx, "b").expect_code(0);
    assert_eq!(fx.manifest("b"), reference);
    assert_eq!(leftovers(&fx.path("b")), Vec::<PathBuf>::new());
    let rewritten: Vec<usize> = shards
        .iter()
        .enumerate()
        .filter(|(i, p)| before[*i] != Some(stamp(p)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        rewritten,
        vec![3, 7],
        "only the missing and damaged shards are redone"
    );
}

#[test]
fn sigterm_stops_with_a_message_and_a_rerun_finishes() {
    let fx = SampleInputs::new();
    build(&fx, "reference").expect_code(0);
    let child = command(&fx, "t")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sleep(Duration::from_millis(30));
    // the shell's built-in kill: no procps needed
    Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(130) {
        assert!(
            stderr.contains("run the same command again to resume"),
            "{stderr}"
        );
    }
    build(&fx, "t").expect_code(0);
    assert_eq!(fx.manifest("t"), fx.manifest("reference"));
    assert_eq!(leftovers(&fx.path("t")), Vec::<PathBuf>::new());
}

#[test]
fn a_full_disk_is_a_clear_error_and_a_rerun_succeeds() {
    let fx = SampleInputs::new();
    build(&fx, "reference").expect_code(0);
    // A 2 KiB file-size limit stands in for a full disk: writes past it fail with EFBIG
    // (SIGXFSZ ignored, as a shell's `trap '' XFSZ` leaves it for the child).
    let command = command(&fx, "full");
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let out = run(Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 4; trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(program)
        .args(args));
    let out = out.expect_code(2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.dump());
    assert!(
        out.stderr.contains("File too large") && out.stderr.contains(".tmp'"),
        "{}",
        out.dump()
    );
    // Nothing unfinished carries a final name: no manifest, and every final file is whole.
    assert!(!fx.path("full/manifest.json").exists());
    build(&fx, "full").expect_code(0);
    assert_eq!(fx.manifest("full"), fx.manifest("reference"));
    assert_eq!(leftovers(&fx.path("full")), Vec::<PathBuf>::new());
}

/// A tmpfs mounted at a directory for a test, unmounted when dropped; `None` (the test
/// skips) where this is not root or may not mount, unless EARLYBERTS_REQUIRE_ROOT=1 (CI).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|out| out.status.success());
        if !mounted {
            assert!(
                std::env::var("EARLYBERTS_REQUIRE_ROOT").as_deref() != Ok("1"),
                "EARLYBERTS_REQUIRE_ROOT=1 but a tmpfs cannot be mounted at {}",
                dir.display()
            );
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_build_too_big_for_its_filesystem_says_how_much_more_it_needs_then_resumes() {
    let fx = SampleInputs::new();
    build(&fx, "reference").expect_code(0);
    let Some(disk) = Tmpfs::mount(&fx.path("small"), "8k") else {
        return;
    };
    let mut command = command(&fx, "small/build");
    let out = run(&mut command).expect_code(2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.dump());
    for needle in ["small/build/store", "the store stage needs about", "make "] {
        assert!(out.stderr.contains(needle), "{needle:?}\n{}", out.dump());
    }
    // Refused before writing: no store, no manifest, nothing a rerun could take as done.
    assert!(!fx.path("small/build/store/store.json").exists());
    assert!(!fx.path("small/build/manifest.json").exists());
    disk.resize("64m");
    run(&mut command).expect_code(0);
    assert_eq!(fx.manifest("small/build"), fx.manifest("reference"));
    assert_eq!(leftovers(&fx.path("small/build")), Vec::<PathBuf>::new());
}

#[test]
fn two_builds_into_one_directory_the_second_is_refused() {
    let fx = SampleInputs::new();
    let lock = earlyberts_format::DirLock::acquire(&fx.path("busy"), "a test").unwrap();
    build(&fx, "busy")
        .expect_code(2)
        .expect_output("is in use by a test (pid");
    drop(lock);
    build(&fx, "busy").expect_code(0);
}

/// A corpus big enough to kill `prepare` in the middle (about 6 MB of BookCorpus rows and a
/// few articles), and the keyed recipe with store shards of 2,000 sentences.
fn long_prepare(fx: &SampleInputs) -> impl Fn(&str) -> Command + '_ {
    let corpus = fx.path("long-corpus");
    fs::create_dir_all(&corpus).unwrap();
    let wiki = fs::read_to_string(crate::util::repo().join("tests/fixtures/corpus/wikipedia.txt"))
        .unwrap();
    fs::write(corpus.join("wikipedia.txt"), wiki).unwrap();
    let rows: Vec<String> = (0..120_000u64)
        .map(|i| format!("row {i} of a long book , with {} words in it .", i % 97))
        .collect();
    fs::write(corpus.join("bookcorpus.txt"), rows.join("\n") + "\n").unwrap();
    pipeline_run([
        "fixture".as_ref(),
        "--corpus".as_ref(),
        corpus.as_os_str(),
        "--out".as_ref(),
        fx.path("long-in").as_os_str(),
    ])
    .expect_code(0);
    let recipe = fs::read_to_string(keyed_recipe()).unwrap().replace(
        "sentences_per_shard = 8388608",
        "sentences_per_shard = 2000",
    );
    fs::write(fx.path("long.toml"), recipe).unwrap();
    move |out: &str| {
        let mut command = crate::util::prepare_command(
            &fx.path("long.toml"),
            &fx.path(out),
            &fx.path("long-in/wikipedia/*.parquet"),
            &fx.path("long-in/bookcorpus/bookcorpus.tar.bz2"),
        );
        command.arg("--quiet");
        command
    }
}

#[test]
fn a_killed_prepare_resumes_after_its_last_shard_to_identical_bytes() {
    let fx = SampleInputs::new();
    let prepare = long_prepare(&fx);
    run(&mut prepare("whole")).expect_code(0);
    let whole = crate::util::snapshot(&fx.path("whole"))
        .replace(fx.path("whole").to_str().unwrap(), "STORE");
    assert!(whole.matches(".tokens").count() > 20, "{whole}");
    let mut resumed = 0;
    for attempt in 0..20 {
        let out = format!("killed{attempt}");
        let checkpoint = fx.path(&out).join("partial.json");
        // SIGKILL as soon as a first shard is committed (a checkpoint is there).
        kill_once_written(&mut prepare(&out), &checkpoint);
        let caught = checkpoint.exists();
        // Once, a committed shard is damaged before the rerun: its hash catches it, and
        // the store is made again from the start.
        let damage = caught && attempt == 0;
        if damage {
            let tokens = fx.path(&out).join("sentences/000000.tokens");
            let bytes = fs::read(&tokens).unwrap();
            fs::write(&tokens, &bytes[..bytes.len() - 2]).unwrap();
        }
        let rerun = run(&mut prepare(&out)).expect_code(0);
        assert_eq!(
            crate::util::snapshot(&fx.path(&out)).replace(fx.path(&out).to_str().unwrap(), "STORE"),
            whole,
            "attempt {attempt}"
        );
        assert_eq!(leftovers(&fx.path(&out)), Vec::<PathBuf>::new());
        if damage {
            assert!(!rerun.stderr.contains("resumed"), "{}", rerun.dump());
        } else if caught {
            assert!(
                rerun.stderr.contains("resumed after the"),
                "{}",
                rerun.dump()
            );
            resumed += 1;
            if resumed == 3 {
                return;
            }
        }
    }
    panic!("only {resumed} of 20 runs were killed between their first shard and their end");
}
