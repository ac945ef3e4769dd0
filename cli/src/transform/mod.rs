//! Transforms and serving: the stack's SQL models run in DAG order — by the local engine
//! (DataFusion over the lake) on the local cloud, by Athena or a Glue Spark job on AWS — and the
//! serving views and exports over them. `dekit query` uses the same session.

pub mod athena;
pub mod catalog;
pub mod engine;
pub mod errors;
pub mod export;
pub mod functions;
pub mod materialize;
pub mod remote;
pub mod session;
pub mod types;
