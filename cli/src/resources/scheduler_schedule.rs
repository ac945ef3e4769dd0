//! `scheduler_schedule`: the EventBridge Scheduler schedule that starts the deployed pipeline
//! (`orchestration.schedule`), in the account's default group, through a role allowed to start
//! that one state machine.
//!
//! Why EventBridge Scheduler: time zones and one-off schedules, and a target role per schedule;
//! it delivers at least once, and a duplicate start is harmless: a step that succeeded in an
//! execution is not run again, and loads are exactly once by their keys.
//!
//! Example: `scheduler_schedule.pipeline` → `retail-prod-pipeline`, `cron(0 5 * * ? *)`, UTC.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use serde_json::json;

pub struct SchedulerSchedule;

const GROUP: &str = "default";

fn invalid(name: &str) -> impl Fn(aws_sdk_scheduler::error::BuildError) -> CloudError + '_ {
    move |e| CloudError::new("Build", name, "InvalidInput", e.to_string())
}

fn parts(d: &Attrs) -> Result<(FlexibleTimeWindow, Target, ScheduleState), CloudError> {
    let name = s(d, "name");
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(invalid(name))?;
    let field = |k: &str| d["target"][k].as_str().unwrap_or_default();
    let target = Target::builder()
        .arn(field("arn"))
        .role_arn(field("role_arn"))
        .input(field("input"))
        .build()
        .map_err(invalid(name))?;
    let state = if d["enabled"] == false {
        ScheduleState::Disabled
    } else {
        ScheduleState::Enabled
    };
    Ok((window, target, state))
}

impl Provider for SchedulerSchedule {
    /// Schedules take no tags (their groups do).
    fn tagged(&self) -> bool {
        false
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(g) = absent(
                c.scheduler
                    .get_schedule()
                    .name(name)
                    .group_name(GROUP)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetSchedule", name, e)),
            )?
            else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(name));
            live.insert(
                "schedule".into(),
                json!(g.schedule_expression().unwrap_or_default()),
            );
            live.insert(
                "timezone".into(),
                json!(g.schedule_expression_timezone().unwrap_or("UTC")),
            );
            live.insert(
                "enabled".into(),
                json!(g.state() != Some(&ScheduleState::Disabled)),
            );
            let t = g.target();
            live.insert(
                "target".into(),
                json!({
                    "arn": t.map(|t| t.arn()).unwrap_or_default(),
                    "role_arn": t.map(|t| t.role_arn()).unwrap_or_default(),
                    "input": t.and_then(|t| t.input()).unwrap_or_default(),
                }),
            );
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let (window, target, state) = parts(d)?;
            c.scheduler
                .create_schedule()
                .name(name)
                .group_name(GROUP)
                .schedule_expression(s(d, "schedule"))
                .schedule_expression_timezone(s(d, "timezone"))
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map_err(|e| from_sdk("CreateSchedule", name, e))?;
            Ok(())
        })
    }

    /// UpdateSchedule replaces the whole schedule with what it is given.
    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let (window, target, state) = parts(d)?;
            c.scheduler
                .update_schedule()
                .name(name)
                .group_name(GROUP)
                .schedule_expression(s(d, "schedule"))
                .schedule_expression_timezone(s(d, "timezone"))
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateSchedule", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.scheduler
                    .delete_schedule()
                    .name(name)
                    .group_name(GROUP)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteSchedule", name, e)),
            )?;
            Ok(())
        })
    }
}
