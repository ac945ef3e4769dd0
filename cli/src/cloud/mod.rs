//! The cloud a stack runs in: target configuration, the one SDK client factory, AWS error
//! reporting, and the local cloud (LocalStack + moto) that stands in for AWS on a laptop and in CI.

pub mod clients;
pub mod credentials;
pub mod error;
pub mod kinesis_pace;
pub mod local;
pub mod target;

pub use clients::Clients;
pub use error::CloudError;
pub use target::Target;
