//! [`Setting`]: the training settings a caller may change, by name.

/// A training setting a caller may change: the name its errors give it (an `Invalid`'s
/// field, [`crate::Error::ResumeConflict`]), which a front end maps to its own name for it (the
/// binary: a flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    BatchSize,
    MicroBatch,
    PadMultiple,
    Lr,
    Warmup,
    Dropout,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 6] = [
        Setting::BatchSize,
        Setting::MicroBatch,
        Setting::PadMultiple,
        Setting::Lr,
        Setting::Warmup,
        Setting::Dropout,
    ];

    /// Its name in errors and in the saved state.
    pub fn name(self) -> &'static str {
        match self {
            Setting::BatchSize => "batch_size",
            Setting::MicroBatch => "micro_batch",
            Setting::PadMultiple => "pad_multiple",
            Setting::Lr => "lr",
            Setting::Warmup => "warmup",
            Setting::Dropout => "dropout",
        }
    }

    /// The setting an error's field names, if it is one.
    pub fn named(field: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.name() == field)
    }
}
