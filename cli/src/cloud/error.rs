//! AWS API failures, reported with the operation, the resource, and AWS's error code.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {resource}: {code}: {message}")]
pub struct CloudError {
    pub operation: String,
    pub resource: String,
    /// AWS's error code (e.g. `ResourceInUseException`), or `ConnectionFailed`/`Timeout`.
    pub code: String,
    pub message: String,
}

impl CloudError {
    pub fn new(operation: &str, resource: &str, code: &str, message: impl Into<String>) -> Self {
        CloudError {
            operation: operation.into(),
            resource: resource.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// Throttling and eventual-consistency errors worth retrying with backoff.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "LimitExceededException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "ConcurrentModificationException"
                | "OperationAbortedException"
                | "ConnectionFailed"
                | "Timeout"
        )
    }
}

/// Convert any SDK error: the service's error code when it answered, else what went wrong on the way.
pub fn from_sdk<E, R>(
    operation: &str,
    resource: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let (code, message) = match &err {
        SdkError::ServiceError(e) => (
            e.err().code().unwrap_or("Unknown").to_string(),
            e.err().message().unwrap_or_default().to_string(),
        ),
        SdkError::DispatchFailure(e) => (
            if e.is_timeout() {
                "Timeout"
            } else {
                "ConnectionFailed"
            }
            .to_string(),
            e.as_connector_error()
                .map_or_else(|| "dispatch failure".to_string(), |c| causes(c)),
        ),
        SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
        other => (
            "ClientError".into(),
            aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
        ),
    };
    CloudError::new(operation, resource, &code, message)
}

/// The chain of causes, outermost first, each once: "dispatch failure: io error: tcp connect error:
/// Connection refused (os error 111)", without the Debug dumps of the whole chain.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out: Vec<String> = vec![];
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !out.iter().any(|o| o.contains(&text)) {
            out.push(text);
        }
        next = e.source();
    }
    out.join(": ")
}
