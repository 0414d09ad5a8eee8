//! `--device cpu|cuda[:N]|wgpu`: which backend trains.
//!
//! CPU is burn-flex. The GPUs go through burn's cubecl backend with fusion and autotune:
//! CUDA (burn-cuda, the `cuda` feature) and wgpu (burn-wgpu, the `wgpu` feature: Vulkan,
//! Metal or DirectX 12, WGSL kernels; AMD, Intel and Apple GPUs, and lavapipe, Mesa's
//! software Vulkan, on which CI runs the GPU code path). Both load their driver at run time
//! and panic when they cannot, so availability is probed once with the panic caught and
//! turned into an error that says what is missing (the first panic of any thread,
//! [`crate::panics`]).
//!
//! [`DeviceChoice::dispatch`] is the one place that maps a choice to a backend type: a job
//! generic over the backend ([`OnDevice`]) runs on whichever the user chose.

use std::{
    fmt,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
};

use burn::{
    backend::{Autodiff, Flex},
    tensor::{
        BasicOps, Tensor, TensorData,
        backend::{AutodiffBackend, Backend},
    },
};
use serde::Serialize;

use crate::{Error, Result};

static HOST_READS: AtomicU64 = AtomicU64::new(0);
static SYNCS: AtomicU64 = AtomicU64::new(0);

/// How often this process waited on a device: the trainer reads device memory and syncs
/// only through [`read`] and [`sync`], which count. On a GPU each is a round trip that
/// drains the queue (fusion's pending kernels included), so `trainer bench` reports both
/// per step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct HostWaits {
    /// Tensors copied to host memory.
    pub reads: u64,
    /// Explicit waits for the queued work.
    pub syncs: u64,
}

impl HostWaits {
    /// The counts so far.
    pub fn now() -> HostWaits {
        HostWaits {
            reads: HOST_READS.load(Ordering::Relaxed),
            syncs: SYNCS.load(Ordering::Relaxed),
        }
    }
}

/// Waits for the work queued on `device` (a GPU backend runs asynchronously).
pub fn sync<B: Backend>(device: &B::Device) -> Result<()> {
    SYNCS.fetch_add(1, Ordering::Relaxed);
    B::sync(device).map_err(|e| Error::Device {
        reason: format!("{e:?}"),
    })
}

/// Copies `tensor`'s values to host memory (a GPU backend first runs what it depends on).
pub fn read<B: Backend, const D: usize, K: BasicOps<B>>(tensor: Tensor<B, D, K>) -> TensorData {
    HOST_READS.fetch_add(1, Ordering::Relaxed);
    tensor.into_data()
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
    /// wgpu's default adapter: the most powerful GPU it finds (`CUBECL_WGPU_DEFAULT_DEVICE`,
    /// e.g. `IntegratedGpu(0)`, picks another).
    Wgpu,
}

impl DeviceChoice {
    /// The names [`DeviceChoice::from_str`] takes, for help and messages.
    pub const NAMES: &str = "cpu, cuda, cuda:N or wgpu";
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeviceChoice> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            "wgpu" => Ok(DeviceChoice::Wgpu),
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
            DeviceChoice::Wgpu => write!(f, "wgpu"),
        }
    }
}

impl DeviceChoice {
    /// CUDA device 0 when compiled in and usable, else the CPU. wgpu is never picked
    /// unasked: on a machine without a GPU its default adapter is a software one, far
    /// slower than the CPU backend.
    pub fn default_available() -> DeviceChoice {
        if cfg!(feature = "cuda") && DeviceChoice::Cuda(0).check().is_ok() {
            DeviceChoice::Cuda(0)
        } else {
            DeviceChoice::Cpu
        }
    }

    /// Whether this runs on the cubecl backend (kernels compiled per shape, asynchronous).
    pub fn is_gpu(self) -> bool {
        !matches!(self, DeviceChoice::Cpu)
    }

    /// Refuses a device this binary cannot use, before any work starts.
    pub fn check(self) -> Result<()> {
        match self {
            DeviceChoice::Cpu => Ok(()),
            DeviceChoice::Cuda(index) => cuda_available(index),
            DeviceChoice::Wgpu => wgpu_available(),
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
            #[cfg(feature = "wgpu")]
            DeviceChoice::Wgpu => job.run::<Autodiff<burn::backend::Wgpu>>(Default::default()),
            #[allow(unreachable_patterns)] // with both GPU features
            _ => unreachable!("check refuses a backend that is not compiled in"),
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_available(_index: usize) -> Result<()> {
    Err(Error::BackendNotBuilt {
        backend: "CUDA",
        feature: "cuda",
    })
}

#[cfg(feature = "cuda")]
fn cuda_available(index: usize) -> Result<()> {
    let device = burn::backend::cuda::CudaDevice::new(index);
    probe::<burn::backend::Cuda>(&device).map_err(|why| Error::DeviceUnusable {
        device: format!("cuda:{index}"),
        why,
        hint: "check the NVIDIA driver",
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_available() -> Result<()> {
    Err(Error::BackendNotBuilt {
        backend: "wgpu",
        feature: "wgpu",
    })
}

#[cfg(feature = "wgpu")]
fn wgpu_available() -> Result<()> {
    probe::<burn::backend::Wgpu>(&Default::default()).map_err(|why| Error::DeviceUnusable {
        device: "wgpu".into(),
        why,
        hint: "check the Vulkan or Metal driver (on Debian without a GPU: mesa-vulkan-drivers)",
    })
}

/// Sums four ones on `device`: the driver loads, a kernel compiles, runs and reads back.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn probe<B: Backend>(device: &B::Device) -> std::result::Result<(), String> {
    // A failure may panic on cubecl's device thread, and the caller then sees only a
    // closed channel: the recorded first panic is the cause. Nothing is used after a
    // panic, so unwind safety does not matter.
    crate::panics::record();
    let sum = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sum = Tensor::<B, 1>::ones([4], device).sum();
        read(sum).iter::<f32>().next()
    }));
    match sum {
        Ok(Some(4.0)) => Ok(()),
        Ok(sum) => Err(format!("a test sum gave {sum:?}, not 4")),
        Err(_) => Err(crate::panics::summary().unwrap_or_else(|| "unknown error".into())),
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
        assert_eq!("wgpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
        assert_eq!(DeviceChoice::Wgpu.to_string(), "wgpu");
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", "wgpu:0", ""] {
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

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_is_refused() {
        let err = DeviceChoice::Wgpu.check().unwrap_err().to_string();
        assert!(err.contains("--features wgpu"), "{err}");
    }
}
