//! Run and test outcomes as CloudWatch metrics (namespace `dekit`, dimensions `Stack` and
//! `Environment`), so alarms and dashboards can watch the pipeline the way they watch AWS's own
//! services: `FailedSteps`, `RunSucceeded`, `RowsMoved` and `RunSeconds` after each run;
//! `FailedChecks` and `Checks` after each test.

use crate::cloud::Clients;
use crate::cloud::error::from_sdk;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

pub const NAMESPACE: &str = "dekit";

/// Publish `(name, value, unit)` for the stack and environment.
pub async fn publish(
    c: &Clients,
    stack: &str,
    environment: &str,
    values: &[(&str, f64, StandardUnit)],
) -> Result<(), String> {
    let dims = [
        Dimension::builder().name("Stack").value(stack).build(),
        Dimension::builder()
            .name("Environment")
            .value(environment)
            .build(),
    ];
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let data: Vec<MetricDatum> = values
        .iter()
        .map(|(name, v, unit)| {
            MetricDatum::builder()
                .metric_name(*name)
                .value(*v)
                .unit(unit.clone())
                .timestamp(now)
                .set_dimensions(Some(dims.to_vec()))
                .build()
        })
        .collect();
    c.cloudwatch
        .put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some(data))
        .send()
        .await
        .map_err(|e| from_sdk("PutMetricData", NAMESPACE, e).to_string())?;
    Ok(())
}
