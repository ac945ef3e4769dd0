//! The AWS resource kinds dekit manages, one provider each. Below the graph that orders them and
//! the state that records them.

use serde::Serialize;

/// AWS resource kinds dekit manages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    S3Bucket,
    S3Object,
    KinesisStream,
    FirehoseDeliveryStream,
    GlueDatabase,
    GlueTable,
    GlueCrawler,
    GlueJob,
    GlueTrigger,
    GlueSecurityConfiguration,
    GlueCatalogEncryption,
    IamRole,
    CloudwatchAlarm,
    AthenaWorkgroup,
    SecretsmanagerSecret,
    SnsTopic,
    LambdaFunction,
    SfnStateMachine,
    SchedulerSchedule,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "s3_bucket",
            ResourceKind::S3Object => "s3_object",
            ResourceKind::KinesisStream => "kinesis_stream",
            ResourceKind::FirehoseDeliveryStream => "firehose_delivery_stream",
            ResourceKind::GlueDatabase => "glue_database",
            ResourceKind::GlueTable => "glue_table",
            ResourceKind::GlueCrawler => "glue_crawler",
            ResourceKind::GlueJob => "glue_job",
            ResourceKind::GlueTrigger => "glue_trigger",
            ResourceKind::GlueSecurityConfiguration => "glue_security_configuration",
            ResourceKind::GlueCatalogEncryption => "glue_catalog_encryption",
            ResourceKind::IamRole => "iam_role",
            ResourceKind::CloudwatchAlarm => "cloudwatch_alarm",
            ResourceKind::AthenaWorkgroup => "athena_workgroup",
            ResourceKind::SecretsmanagerSecret => "secretsmanager_secret",
            ResourceKind::SnsTopic => "sns_topic",
            ResourceKind::LambdaFunction => "lambda_function",
            ResourceKind::SfnStateMachine => "sfn_state_machine",
            ResourceKind::SchedulerSchedule => "scheduler_schedule",
        }
    }
}
