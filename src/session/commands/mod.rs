//! Command handlers, grouped by capability. Each takes the session and validated arguments and
//! returns outputs; it must not mutate the session before everything that can fail has run.
pub mod data_settings;
pub mod features;
pub mod general;
pub mod inference;
pub mod inspect;
pub mod load;
pub mod model;
pub mod parallel;
pub mod params;
pub mod plot;
pub mod show;
pub mod structure;
pub mod training;
