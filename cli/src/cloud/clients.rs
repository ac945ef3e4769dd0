//! The one place SDK clients are built, from a `Target`.

use super::target::Target;
use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};

/// One client per service, all for the same target. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Clients {
    pub target: Target,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub glue: aws_sdk_glue::Client,
    pub athena: aws_sdk_athena::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// The SDK's credential chain, for clients outside the SDK (the local engine's object store).
    pub credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    /// Kinesis' account limits, shared by every stream this process creates or changes.
    pub kinesis_pace: std::sync::Arc<super::kinesis_pace::KinesisPace>,
}

macro_rules! client {
    ($krate:ident, $conf:expr, $target:expr, $service:literal) => {{
        let mut b = $krate::config::Builder::from($conf).interceptor(crate::timings::ApiCalls);
        if let Some(e) = $target.endpoint($service) {
            b = b.endpoint_url(e);
        }
        $krate::Client::from_conf(b.build())
    }};
}

impl Clients {
    pub async fn connect(target: &Target) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region().to_string()));
        match target {
            Target::Local { .. } => {
                // LocalStack and moto accept any credentials; fixed ones keep real ones out of the way.
                loader = loader
                    .credentials_provider(aws_sdk_s3::config::Credentials::new(
                        "test",
                        "test",
                        None,
                        None,
                        "dekit-local",
                    ))
                    // Plain HTTP on loopback: the HTTPS client would first load and parse every
                    // root certificate of the system (~50-100 ms of every command).
                    .http_client(aws_smithy_http_client::Builder::new().build_http());
            }
            Target::Aws { profile, .. } => {
                if let Some(p) = profile {
                    loader = loader.profile_name(p);
                }
            }
        }
        let conf = loader.load().await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&conf).interceptor(crate::timings::ApiCalls);
        if let Some(e) = target.endpoint("s3") {
            s3 = s3.endpoint_url(e);
        }
        if target.is_local() {
            // LocalStack on loopback has no per-bucket DNS, and rejects some streaming checksums.
            s3 = s3
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Clients {
            target: target.clone(),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            kinesis: client!(aws_sdk_kinesis, &conf, target, "kinesis"),
            firehose: client!(aws_sdk_firehose, &conf, target, "firehose"),
            glue: client!(aws_sdk_glue, &conf, target, "glue"),
            athena: client!(aws_sdk_athena, &conf, target, "athena"),
            secretsmanager: client!(aws_sdk_secretsmanager, &conf, target, "secretsmanager"),
            iam: client!(aws_sdk_iam, &conf, target, "iam"),
            sts: client!(aws_sdk_sts, &conf, target, "sts"),
            cloudwatch: client!(aws_sdk_cloudwatch, &conf, target, "cloudwatch"),
            sns: client!(aws_sdk_sns, &conf, target, "sns"),
            lambda: client!(aws_sdk_lambda, &conf, target, "lambda"),
            sfn: client!(aws_sdk_sfn, &conf, target, "stepfunctions"),
            scheduler: client!(aws_sdk_scheduler, &conf, target, "scheduler"),
            credentials: conf.credentials_provider(),
            kinesis_pace: Default::default(),
        }
    }
}
