//! One module per subcommand: its arguments (`XArgs`) beside its `run`.

pub mod inspect;
pub mod verify;
