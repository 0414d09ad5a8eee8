//! `pipeline fetch`: download the pinned sources into the data directory, verified.

use std::{
    collections::BTreeMap, io::IsTerminal, path::PathBuf, process::ExitCode, sync::Mutex,
    time::Duration,
};

use anyhow::{Context, bail};
use earlyberts_format::write_atomic;
use earlyberts_pipeline::{
    Error,
    fetch::{
        Downloader, FetchOptions, FetchProgress, FetchReport, LockFile, Sources, hosts,
        lock_sources, resolve_targets,
    },
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    GlobalArgs,
    cmd::{flag_context, with_flags},
};

/// Exit status: 0 when every file is present and verified, 2 otherwise.
///
/// Environment: HF_ENDPOINT replaces the `hf` host, HF_TOKEN is sent to it as a bearer
/// token, EARLYBERTS_OFFLINE=1 is --offline, EARLYBERTS_FETCH_BACKOFF_MS sets the first
/// retry delay (default 1000).
#[derive(clap::Args)]
pub struct FetchArgs {
    /// Accept files whose hash is neither pinned nor locked (recorded as unpinned).
    #[arg(long)]
    pub allow_unpinned: bool,
    /// Where the files go.
    #[arg(long, value_name = "DIR", default_value = "data/sources")]
    pub data_dir: PathBuf,
    /// Downloads at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// Ask the Hub for the commit and hashes of every Hub entry and write the lock file.
    #[arg(long)]
    pub lock: bool,
    /// The lock file.
    #[arg(long, value_name = "FILE", default_value = "manifests/sources.lock")]
    pub lock_file: PathBuf,
    /// Replace a host's base URL, e.g. `--mirror hf=https://hf-mirror.example`.
    #[arg(long, value_name = "NAME=URL")]
    pub mirror: Vec<String>,
    /// No network: every file must already be present and verify.
    #[arg(long)]
    pub offline: bool,
    /// Only these groups (comma-separated), default groups otherwise; with --lock, lock
    /// only these and keep the lock file's other entries.
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub only: Vec<String>,
    /// The source manifest.
    #[arg(long, value_name = "FILE", default_value = "manifests/sources.toml")]
    pub sources: PathBuf,
    /// Attempts per file.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub tries: u32,
}

pub fn run(global: &GlobalArgs, args: FetchArgs) -> anyhow::Result<ExitCode> {
    let sources = Sources::load(&args.sources)?;
    if let Some(unknown) = args.only.iter().find(|g| !sources.has_group(g)) {
        bail!(
            "--only names group '{unknown}', which '{}' does not have (groups: {})",
            args.sources.display(),
            sources.groups().join(", ")
        );
    }
    let mirrors = args
        .mirror
        .iter()
        .map(|m| match m.split_once('=') {
            Some((name, url)) => Ok((name.to_string(), url.to_string())),
            None => Err(anyhow::anyhow!("--mirror '{m}' is not NAME=URL")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let endpoint = std::env::var("HF_ENDPOINT").ok();
    let hosts = hosts(&sources, endpoint.as_deref(), &mirrors).map_err(|e| match e {
        Error::UnknownHost { name, known } => anyhow::anyhow!(
            "--mirror names host '{name}', which the sources do not use (hosts: {})",
            known.join(", ")
        ),
        e => e.into(),
    })?;
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let offline = args.offline || std::env::var("EARLYBERTS_OFFLINE").as_deref() == Ok("1");
    if args.lock {
        if offline {
            bail!("--lock needs the network, but fetching is offline");
        }
        let fresh = lock_sources(&sources, &hosts, token.as_deref(), &args.only)?;
        // A lock of some groups keeps the other groups' entries of the lock file.
        let lock = match args.only.is_empty() {
            true => fresh,
            false => LockFile::load(&args.lock_file)?.replacing_groups(&args.only, fresh),
        };
        let text = toml::to_string(&lock).context("cannot write the lock file")?;
        write_atomic(&args.lock_file, format!("# Written by `pipeline fetch --lock`: Hub files at fixed commits, with the hashes the Hub publishes.\n{text}").as_bytes())?;
        println!(
            "locked {} files into '{}'",
            lock.files.len(),
            args.lock_file.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let _dir_lock = earlyberts_format::DirLock::acquire(&args.data_dir, "pipeline fetch")?;
    let lock = LockFile::load(&args.lock_file)?;
    let targets =
        resolve_targets(&sources, &lock, &args.only, args.allow_unpinned).map_err(flag_context)?;
    let backoff = std::env::var("EARLYBERTS_FETCH_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let downloader = Downloader::new(FetchOptions {
        data_dir: args.data_dir.clone(),
        hosts,
        hf_token: token,
        offline,
        jobs: args.jobs,
        tries: args.tries.max(1),
        backoff: Duration::from_millis(backoff),
    });
    let bars = Bars::new(&targets, global.quiet);
    let results = downloader.fetch_all(&targets, &bars);
    bars.total.finish_and_clear();
    let report = FetchReport::new(&targets, results, &args.data_dir)?;
    report.save(&args.data_dir)?;
    Ok(render(&report, targets.len(), &args))
}

/// The summary line on stdout, and each failure on stderr.
fn render(report: &FetchReport, targets: usize, args: &FetchArgs) -> ExitCode {
    for (dest, e) in &report.failures {
        match with_flags(e) {
            Some(message) => eprintln!("pipeline: {dest}: {message}"),
            None => eprintln!("pipeline: {dest}: {e:#}"),
        }
    }
    let (downloaded, present) = (report.downloaded, report.present);
    if !report.failures.is_empty() {
        println!(
            "FAILED: {} of {targets} files; {downloaded} downloaded, {present} already present",
            report.failures.len()
        );
        return ExitCode::from(2);
    }
    if downloaded == 0 {
        println!(
            "up to date: {present} files present and verified in '{}'",
            args.data_dir.display()
        );
    } else {
        println!(
            "fetched {downloaded} files, {present} already present, all verified, in '{}'",
            args.data_dir.display()
        );
    }
    ExitCode::SUCCESS
}

/// A bar per file in flight and one for the total.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: Mutex<BTreeMap<usize, ProgressBar>>,
}

impl Bars {
    fn new(targets: &[earlyberts_pipeline::fetch::Target], quiet: bool) -> Bars {
        let multi = MultiProgress::new();
        if quiet || !std::io::stderr().is_terminal() {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let total = multi.add(ProgressBar::new(
            targets.iter().filter_map(|t| t.size).sum(),
        ));
        total.set_style(style("total"));
        Bars {
            multi,
            total,
            files: Mutex::new(BTreeMap::new()),
        }
    }
}

fn style(prefix: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{prefix} {{wide_msg}} [{{bar:25}}] {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}} eta {{eta}}"))
        .expect("the template is valid")
        .progress_chars("=> ")
}

impl FetchProgress for Bars {
    fn started(&self, file: usize, dest: &str, size: Option<u64>) {
        let bar = self.multi.add(ProgressBar::new(size.unwrap_or(0)));
        bar.set_style(style(""));
        bar.set_message(dest.to_string());
        self.files.lock().expect("bars lock").insert(file, bar);
    }

    fn advanced(&self, file: usize, bytes: u64) {
        if let Some(bar) = self.files.lock().expect("bars lock").get(&file) {
            bar.inc(bytes);
        }
        self.total.inc(bytes);
    }

    fn finished(&self, file: usize, _ok: bool) {
        if let Some(bar) = self.files.lock().expect("bars lock").remove(&file) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}
