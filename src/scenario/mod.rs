//! The scenario format (v1alpha1): parsing with locations, validation, and
//! path resolution. See `docs/scenario-format.md`.

pub mod model;

pub use model::*;
