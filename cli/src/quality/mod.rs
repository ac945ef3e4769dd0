//! `dekit test`: runs the checks (`crate::checks`) and unit tests of a stack over the lake, on
//! the local engine or Athena, judges the schema and anomaly checks, reconciles loads with their
//! sources, and reports (terminal, JSON, JUnit).

pub mod anomaly;
pub mod athena;
pub mod junit;
pub mod local;
pub mod outcome;
pub mod reconcile;
pub mod runner;
pub mod schema;
pub mod unit;
