//! Command handlers, grouped by capability. Each takes the session and validated arguments and
//! returns outputs; it must not mutate the session before everything that can fail has run.
pub mod general;
