//! The scenario format (v1alpha1): parsing with locations, validation, and
//! path resolution. See `docs/scenario-format.md`.
//!
//! - [`load_file`], [`load_str`], [`load_bytes`], [`load_files`]: YAML → validated [`Scenario`]s,
//!   or [`LoadErrors`] naming file, line, column and field.
//! - [`scenario_files`]: which files a directory holds.
//! - [`json_schema`]: the format as a JSON Schema, for editors.

pub mod discover;
pub mod error;
pub mod load;
pub mod model;
pub mod raw;
pub mod schema;
mod span;
mod tree;
mod yaml;

pub use discover::scenario_files;
pub use error::{LoadError, LoadErrorKind, LoadErrors};
pub use load::{API_VERSION, DEFAULT_TIMEOUT, FileLoad, load_bytes, load_file, load_files, load_str};
pub use model::*;
pub use schema::json_schema;
pub use span::Sp;
pub use yaml::{MAX_DEPTH, MAX_FILE_BYTES};
