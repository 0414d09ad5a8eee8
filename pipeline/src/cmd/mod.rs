//! One module per subcommand: its arguments (`XArgs`) beside its `run`.

pub mod audit;
pub mod build;
pub mod fetch;
pub mod fixture;
pub mod inspect;
pub mod prepare;
pub mod sentences;
pub mod tokenize;
pub mod verify;
