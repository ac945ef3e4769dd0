//! dekit: from one declarative stack file to a running, tested, observed AWS data platform.
//!
//! Data flow: stack file (`source`, `yaml`) → model (`model`, `load`) → checks (`validate`) →
//! resource graph (`graph`) → plan (`plan`) → apply.

pub mod aws_names;
pub mod checks;
pub mod ci;
pub mod clock;
pub mod cloud;
pub mod codes;
pub mod commands;
pub mod deploy;
pub mod diagnostic;
pub mod dialect;
pub mod elf;
pub mod engine;
pub mod failpoint;
pub mod graph;
pub mod hash;
pub mod init;
pub mod interpolate;
pub mod lake;
pub mod lineage;
pub mod lint;
pub mod load;
pub mod metrics;
pub mod model;
pub mod names;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod quality;
pub mod records;
pub mod resources;
pub mod revision;
pub mod run;
pub mod runtime;
pub mod schedule;
pub mod schema;
pub mod settings;
pub mod source;
pub mod sql;
pub mod stack_files;
pub mod state;
pub mod stats;
pub mod summary;
pub mod templates;
pub mod timings;
pub mod transform;
pub mod validate;
pub mod yaml;
