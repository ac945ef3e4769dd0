//! How each engine speaks SQL, below both the checks of a stack (`validate` refuses a model an
//! engine cannot run) and the engines that run it: the functions the local engine resolves, and
//! the translation of a model's Trino SQL to Spark's.

pub mod date_formats;
pub mod local;
pub mod spark;
