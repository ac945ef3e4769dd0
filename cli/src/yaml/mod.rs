//! YAML: a spanned node tree and a serde deserializer over it that reports every error it meets.

pub mod de;
pub mod node;

pub use de::{Named, Spanned, from_node};
pub use node::{Node, NodeKind, ScalarStyle, parse};
