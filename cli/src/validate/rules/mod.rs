//! The rules `dekit validate` runs, in the order they are listed in `dekit rules`.

use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub mod batch_schedule;
pub mod bucket_name;
pub mod column_type;
pub mod dependency_cycle;
pub mod duplicate_name;
pub mod environment;
pub mod export_target;
pub mod glue_name;
pub mod key_prefix;
pub mod literal_secret;
pub mod public_access;
pub mod quality_columns;
pub mod raw_retention;
pub mod schedule;
pub mod shared_location;
pub mod source_fields;
pub mod sql_dialect;
pub mod sql_model;
pub mod stack_name;
pub mod stream_name;
pub mod stream_throughput;
pub mod table_writer;
pub mod unresolved_reference;
pub mod value_range;

pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    /// The fix, shown under every diagnostic of this code that carries no hint of its own.
    pub hint: &'static str,
    /// The rule's own file: its opening `//!` comment is what `dekit rules CODE` explains.
    pub source: &'static str,
    /// Further codes this rule emits: (code, name, summary, hint).
    pub also: &'static [(&'static str, &'static str, &'static str, &'static str)],
    pub check: fn(&Cx, &mut Vec<Diagnostic>),
}

pub const ALL: &[Rule] = &[
    stack_name::RULE,
    bucket_name::RULE,
    stream_name::RULE,
    glue_name::RULE,
    duplicate_name::RULE,
    shared_location::RULE,
    unresolved_reference::RULE,
    dependency_cycle::RULE,
    schedule::RULE,
    batch_schedule::RULE,
    export_target::RULE,
    sql_model::RULE,
    sql_dialect::RULE,
    literal_secret::RULE,
    column_type::RULE,
    value_range::RULE,
    key_prefix::RULE,
    source_fields::RULE,
    environment::RULE,
    public_access::RULE,
    quality_columns::RULE,
    raw_retention::RULE,
    stream_throughput::RULE,
    table_writer::RULE,
];
