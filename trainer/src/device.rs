//! `--device cpu|cuda[:N]`: which backend trains.
//!
//! CPU is burn-flex; CUDA is burn-cuda, compiled only with the `cuda` feature. cudarc loads
//! the driver at run time and panics when it cannot, so availability is probed once with
//! the panic caught and turned into an error that says what is missing (the first panic of
//! any thread, [`crate::panics`]).
//!
//! [`DeviceChoice::dispatch`] is the one place that maps a choice to a backend type: a job
//! generic over the backend ([`OnDevice`]) runs on whichever the user chose.

use std::{fmt, str::FromStr};

use burn::{
    backend::{Autodiff, Flex},
    tensor::backend::AutodiffBackend,
};

use crate::{Error, Result};

/// Waits for the work queued on `device` (a GPU backend runs asynchronously).
pub fn sync<B: burn::tensor::backend::Backend>(device: &B::Device) -> Result<()> {
    B::sync(device).map_err(|e| Error::Device {
        reason: format!("{e:?}"),
    })
}

/// Work that runs on any autodiff backend.
pub trait OnDevice {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

/// A device named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeviceChoice> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceChoice::Cuda(n)),
                _ => Err(Error::UnknownDevice { name: s.into() }),
            },
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// CUDA device 0 when compiled in and usable, else the CPU.
    pub fn default_available() -> DeviceChoice {
        if cfg!(feature = "cuda") && DeviceChoice::Cuda(0).check().is_ok() {
            DeviceChoice::Cuda(0)
        } else {
            DeviceChoice::Cpu
        }
    }

    /// Whether this is a GPU.
    pub fn is_cuda(self) -> bool {
        matches!(self, DeviceChoice::Cuda(_))
    }

    /// Refuses a device this binary cannot use, before any work starts.
    pub fn check(self) -> Result<()> {
        match self {
            DeviceChoice::Cpu => Ok(()),
            DeviceChoice::Cuda(index) => cuda_available(index),
        }
    }

    /// Runs `job` on this device's backend, after [`DeviceChoice::check`].
    pub fn dispatch<J: OnDevice>(self, job: J) -> Result<J::Output> {
        self.check()?;
        match self {
            DeviceChoice::Cpu => job.run::<Autodiff<Flex>>(Default::default()),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda(n) => {
                job.run::<Autodiff<burn::backend::Cuda>>(burn::backend::cuda::CudaDevice::new(n))
            }
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda(_) => Err(Error::NoCuda),
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_available(_index: usize) -> Result<()> {
    Err(Error::NoCuda)
}

#[cfg(feature = "cuda")]
fn cuda_available(index: usize) -> Result<()> {
    use burn::{
        backend::{Cuda, cuda::CudaDevice},
        tensor::Tensor,
    };
    // A failure may panic on cubecl's device thread, and the caller then sees only a
    // closed channel: the recorded first panic is the cause.
    crate::panics::record();
    let probe = std::panic::catch_unwind(|| {
        let device = CudaDevice::new(index);
        let t = Tensor::<Cuda, 1>::ones([4], &device);
        t.sum().into_scalar()
    });
    match probe {
        Ok(sum) if sum == 4.0 => Ok(()),
        Ok(sum) => Err(Error::CudaUnusable {
            index,
            why: format!("a test sum gave {sum}, not 4"),
        }),
        Err(_) => Err(Error::CudaUnusable {
            index,
            why: crate::panics::summary().unwrap_or_else(|| "unknown error".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(0)
        );
        assert_eq!(
            "cuda:3".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(3)
        );
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", ""] {
            assert!(bad.parse::<DeviceChoice>().is_err(), "{bad}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_refused() {
        let err = DeviceChoice::Cuda(0).check().unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
        assert_eq!(DeviceChoice::default_available(), DeviceChoice::Cpu);
    }
}
