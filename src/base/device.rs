//! Where tensors live: the backend choice (flex on the CPU, wgpu on a GPU), the wgpu runtime
//! that the feature kernels and training share, what one buffer may hold on a device, waiting
//! for a device to finish, and the allocator setting that keeps CPU training fast.
//!
//! Model code has no backend type parameter: a [`Device`] picked here at run time decides.

use burn::tensor::Device;

#[cfg(feature = "wgpu")]
use super::error::quietly;
use super::error::{Error, Result};

/// Where tensors live during training and inference.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (multi-threaded, SIMD). Deterministic.
    #[default]
    Flex,
    /// Burn's wgpu backend (Vulkan / Metal / DX12); needs a build with `--features wgpu`.
    Wgpu,
}

impl BackendKind {
    /// The name used in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "flex" | "cpu" => Ok(BackendKind::Flex),
            "wgpu" | "gpu" => Ok(BackendKind::Wgpu),
            _ => Err(Error::Usage(format!(
                "unknown backend `{s}`: expected flex or wgpu"
            ))),
        }
    }
}

/// The device for `kind`, checked to work. For `wgpu`, `index` 0 is the best adapter wgpu
/// finds (a discrete GPU first, else an integrated one, else a software driver such as Mesa's
/// lavapipe; `CUBECL_WGPU_DEFAULT_DEVICE` overrides), and `index` N > 0 the N-th discrete GPU.
pub fn device(kind: BackendKind, index: usize) -> Result<Device> {
    match kind {
        BackendKind::Flex => Ok(Device::flex()),
        BackendKind::Wgpu => wgpu_device(index),
    }
}

/// `flex` or `wgpu:N`, as recorded in checkpoints, cache entries and outcomes.
pub fn label(kind: BackendKind, index: usize) -> String {
    match kind {
        BackendKind::Flex => "flex".into(),
        BackendKind::Wgpu => format!("wgpu:{index}"),
    }
}

/// The error of a `--backend wgpu` request to a build without the GPU backend; `instead` ends
/// the fix, e.g. "or use --backend flex". A usage error (exit 2): nothing can run until the
/// command or the build changes.
pub fn without_wgpu(instead: &str) -> Error {
    Error::Usage(format!(
        "this `ser` was built without the wgpu backend: rebuild with \
         `cargo build --release --features wgpu`, {instead}"
    ))
}

/// The wgpu runtime of adapter `index` (0: the best one, N: the N-th discrete GPU), brought up
/// once per process and shared: Burn's device (training, inference) and the raw wgpu handles of
/// the same device and queue (the feature kernels, `features::gpu`). Going through Burn's
/// `init_with_setup` is what makes the two one device; a lazily created Burn device could not
/// hand its handles out.
#[cfg(feature = "wgpu")]
pub fn wgpu_runtime(index: usize) -> Result<(Device, burn::tensor::wgpu::WgpuSetup)> {
    use burn::tensor::wgpu::WgpuSetup;
    use burn::tensor::DeviceKind;
    use std::sync::Mutex;
    type Runtimes = Vec<(usize, Device, WgpuSetup)>;
    static RUNTIMES: Mutex<Runtimes> = Mutex::new(Vec::new());
    // Held while initialising, so two threads never register the same adapter twice (the
    // second registration would fail).
    let mut runtimes = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, device, setup)) = runtimes.iter().find(|(i, ..)| *i == index) {
        return Ok((device.clone(), setup.clone()));
    }
    let kind = match index {
        0 => DeviceKind::DefaultDevice,
        n => DeviceKind::DiscreteGpu(n),
    };
    let result = quietly(|| Device::wgpu_options().device_kind(kind).init_with_setup());
    let why = match result {
        Ok(Ok((device, setup))) => {
            runtimes.push((index, device.clone(), setup.clone()));
            return Ok((device, setup));
        }
        Ok(Err(e)) => e.to_string(),
        Err(panic) => panic,
    };
    Err(wgpu_unusable(index, &why))
}

#[cfg(feature = "wgpu")]
fn wgpu_unusable(index: usize, why: &str) -> Error {
    let which = match index {
        0 => "no wgpu adapter (GPU or software Vulkan driver) is".to_string(),
        n => format!("discrete GPU #{n} is not"),
    };
    Error::device(
        label(BackendKind::Wgpu, index),
        format!(
            "{which} usable ({why}); use --backend flex, another --device, or install a Vulkan \
             driver (Debian: mesa-vulkan-drivers)"
        ),
    )
}

#[cfg(feature = "wgpu")]
fn wgpu_device(index: usize) -> Result<Device> {
    use burn::tensor::Tensor;
    let (device, _) = wgpu_runtime(index)?;
    // Initialising acquired the device; a first tensor also proves that its kernels compile and
    // run, and fails here with one clear error rather than later with a backtrace.
    let probe = device.clone();
    match quietly(move || Tensor::<1>::zeros([1], &probe).into_data()) {
        Ok(_) => Ok(device),
        Err(why) => Err(wgpu_unusable(index, &why)),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(_index: usize) -> Result<Device> {
    Err(without_wgpu("or use --backend flex"))
}

/// The largest buffer one tensor may take on a device: wgpu binds each tensor as one storage
/// buffer and its adapter caps a binding (Mesa's lavapipe at 128 MiB); the CPU has no such cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferCap {
    /// The most bytes of one buffer.
    pub bytes: u64,
    /// The adapter, for messages (`wgpu:0 (llvmpipe (LLVM 15.0.6, 256 bits))`).
    pub device: String,
}

/// The [`BufferCap`] of the `kind` device `index`; `None` on the CPU.
pub fn buffer_cap(kind: BackendKind, index: usize) -> Result<Option<BufferCap>> {
    match kind {
        BackendKind::Flex => Ok(None),
        BackendKind::Wgpu => wgpu_buffer_cap(index).map(Some),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_buffer_cap(index: usize) -> Result<BufferCap> {
    let (_, setup) = wgpu_runtime(index)?;
    // What cubecl allocates at the most in one go (its page size), from the same two limits.
    let limits = setup.device.limits();
    Ok(BufferCap {
        bytes: limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size),
        device: format!(
            "{} ({})",
            label(BackendKind::Wgpu, index),
            setup.adapter.get_info().name
        ),
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_buffer_cap(_index: usize) -> Result<BufferCap> {
    Err(without_wgpu("or use --backend flex"))
}

/// Waits until `device` has run all the work queued on it (a no-op on the CPU); for timings, as
/// a GPU backend returns before its kernels have run, and even a read-back does not always wait
/// for everything before it (seen with Burn 0.22's wgpu on lavapipe).
pub fn wait_for(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| Error::device(format!("{device:?}"), format!("the device failed: {e:?}")))
}

/// Tells mimalloc (the `ser` binary's global allocator, and the examples') never to return freed
/// memory to the OS, so that a training step's large buffers are not page-faulted in again on
/// the next step. Call it once at start-up; harmless where mimalloc is linked but not the
/// global allocator.
pub fn keep_freed_memory() {
    extern "C" {
        /// mimalloc's `mi_option_set` (linked in with the allocator).
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    /// `mi_option_purge_delay` in mimalloc v3's `mi_option_e`; -1: never purge.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: sets a plain option value; mimalloc reads it when it next purges.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_says_how_to_rebuild() {
        let e = device(BackendKind::Wgpu, 0).unwrap_err();
        assert!(e.to_string().contains("--features wgpu"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!("cpu".parse::<BackendKind>().unwrap(), BackendKind::Flex);
        assert_eq!(label(BackendKind::Wgpu, 2), "wgpu:2");
        assert!("tpu".parse::<BackendKind>().is_err());
    }
}
