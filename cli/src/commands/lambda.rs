//! dekit as the deployed pipeline's step runtime on Lambda (custom runtime `provided.al2023`,
//! this binary as `bootstrap`): started with no arguments where `AWS_LAMBDA_RUNTIME_API` is set,
//! it takes invocations from the Lambda Runtime API one at a time and answers each with
//! `run::deployed::handle`, the code `dekit step` runs. The stack travels in the function's
//! package (`stack/` beside `bootstrap`), so a version of the function is one version of the
//! stack; the environment is `DEKIT_ENVIRONMENT`.

use crate::run::Ctx;
use crate::run::deployed::{Answer, Event, handle};
use std::process::ExitCode;

const API: &str = "2018-06-01/runtime";

/// Serve invocations until Lambda ends the process.
pub fn serve(api: &str) -> ExitCode {
    let s = crate::settings::get();
    let root = s
        .lambda_task_root
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let env = s.lambda_environment.clone();
    let api = api.to_string();
    let result: Result<(), String> = crate::runtime::block_on(async move {
        let http = reqwest::Client::new();
        // The stack is opened once, at the first invocation, and kept while the process is warm.
        let mut ctx: Option<Ctx> = None;
        loop {
            let next = http
                .get(format!("http://{api}/{API}/invocation/next"))
                .send()
                .await
                .map_err(|e| format!("the Lambda Runtime API does not answer: {e}"))?;
            let id = next
                .headers()
                .get("Lambda-Runtime-Aws-Request-Id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = next
                .bytes()
                .await
                .map_err(|e| format!("reading invocation {id}: {e}"))?;
            let answer = answer(&body, &mut ctx, &root, env.as_deref()).await;
            let (path, payload) = match answer {
                Ok(a) => (
                    format!("invocation/{id}/response"),
                    serde_json::to_value(a).unwrap_or_default(),
                ),
                Err(e) => (
                    format!("invocation/{id}/error"),
                    serde_json::json!({ "errorMessage": e, "errorType": "dekit.StepError" }),
                ),
            };
            http.post(format!("http://{api}/{API}/{path}"))
                .header("Content-Type", "application/json")
                .body(payload.to_string())
                .send()
                .await
                .map_err(|e| format!("answering invocation {id}: {e}"))?;
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}

async fn answer(
    body: &[u8],
    ctx: &mut Option<Ctx>,
    root: &std::path::Path,
    env: Option<&str>,
) -> Result<Answer, String> {
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| format!("not an invocation of the step runtime: {e}"))?;
    if ctx.is_none() {
        *ctx = Some(open(root, env).await?);
    }
    let ctx = ctx.as_ref().expect("opened above");
    handle(ctx, &event).await
}

/// The stack in the function's package, connected to the account it names.
async fn open(root: &std::path::Path, env: Option<&str>) -> Result<Ctx, String> {
    let file = root.join("stack/stack.yaml");
    let (loaded, report) = crate::load::load_file(&file, env)
        .map_err(|(src, r)| format!("{}: {}", file.display(), r.render(src.as_ref())))?;
    let src = loaded.src.clone();
    let (checked, report) = crate::validate::check(loaded, report);
    let checked =
        checked.ok_or_else(|| format!("{}: {}", file.display(), report.render(Some(&src))))?;
    let (checked, graph, clients) = crate::deploy::connect(checked, false).await?;
    Ok(crate::run::deployed::runtime(Ctx::new(
        checked, graph, clients, 0,
    )))
}
