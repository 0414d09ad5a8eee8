//! `earlyberts._earlyberts`: the Python bindings of earlyberts, a thin layer over the
//! workspace's libraries. The shard format, the step arithmetic, the padding and the
//! provenance search are `earlyberts-format`'s and `earlyberts-pipeline`'s, exactly as the
//! `pipeline` binary uses them; this crate converts their values to Python and numpy and
//! their errors to exceptions. The package around it is `python/earlyberts/`.

mod arrays;
mod build;
mod occurrence;
mod training;

use pyo3::{create_exception, exceptions::PyException, prelude::*};

create_exception!(
    earlyberts,
    BuildError,
    PyException,
    "A build that cannot be read, does not verify or lacks what was asked of it; the message names the file and what to do."
);

/// The error of a library call as a `BuildError` carrying its one-line message: the error
/// and its causes joined by ": ", as the binaries print them.
fn build_error(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PyErr {
    BuildError::new_err(earlyberts_format::one_line(&*err.into()))
}

/// earlyberts builds from Python: examples, optimizer steps and provenance, as the
/// `pipeline` binary reads them.
#[pymodule(name = "_earlyberts")]
mod earlyberts_module {
    #[pymodule_export]
    use super::BuildError;
    #[pymodule_export]
    use super::build::Build;
    #[pymodule_export]
    use super::occurrence::Occurrence;
    #[pymodule_export]
    use super::training::{reference_checkpoint_steps, reference_training};
}
