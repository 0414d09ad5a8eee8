//! `fetch`: pinned public sources, downloaded resumably and verified.
//!
//! `manifests/sources.toml` lists every remote file (or Hub directory) with where it goes
//! under the data directory; a file is trusted only with a known hash: a sha256 pinned in
//! the sources, or a sha256 (LFS files) or git blob sha1 (small files) that `--lock` read
//! from the Hub's API into `manifests/sources.lock`. Downloads go to `NAME.part`, resume
//! with HTTP Range requests, retry with backoff, and are renamed only once size and hash
//! match.

mod download;
mod lock;
mod report;
mod sources;

pub use self::{
    download::{Downloader, FetchOptions, FetchProgress, Outcome},
    lock::lock_sources,
    report::{FETCHED_FILE, FetchReport, FetchedFile, hosts},
    sources::{
        Digest, HubKind, HubRef, LockFile, LockedFile, SourceFile, Sources, Target, resolve_targets,
    },
};
