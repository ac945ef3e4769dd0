//! `dekit query FILE "SQL"`: any SELECT over the stack's tables, built models and views, run by
//! the local engine against the environment's lake; printed as a table, CSV or JSON lines.

use super::StackArgs;
use crate::deploy;
use crate::transform::catalog::Snapshot;
use crate::transform::{errors, session};
use datafusion::arrow::array::RecordBatch;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
    /// Parquet to `--output` (for copies of a table or a model's result).
    Parquet,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The query: tables, models and views by their stack names.
    pub sql: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Rows printed at most (the query still runs in full).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write the result to FILE instead of standard output (required for parquet).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

pub fn run(a: Args) -> ExitCode {
    if matches!(a.format, Format::Parquet) && a.output.is_none() {
        return super::fail("--format parquet writes a file: name it with --output FILE");
    }
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), false) else {
        return ExitCode::FAILURE;
    };
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, false).await?;
        let cat = session::Catalog {
            checked: &d.checked,
            graph: &d.graph,
            clients: &d.clients,
        };
        let stack = &cat.checked.loaded.stack;
        let glue = Snapshot::all(cat.clients, &cat.database(), &stack.models()).await?;
        let ctx = session::new(cat)?;
        for skipped in session::register_stack(&ctx, cat, &glue).await? {
            eprintln!("note: not queryable: {skipped}");
        }
        let df = ctx
            .sql(&a.sql)
            .await
            .map_err(|e| errors::at_model(std::path::Path::new("query"), &a.sql, &e))?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(|e| errors::message(&e))?;
        Ok::<_, String>((schema, batches))
    });
    match result {
        Ok((schema, batches)) => {
            match print(schema, &batches, a.format, a.limit, a.output.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => super::fail(&e),
            }
        }
        Err(e) => super::fail(&e),
    }
}

fn print(
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    limit: Option<usize>,
    output: Option<&std::path::Path>,
) -> Result<(), String> {
    let mut rows_left = limit.unwrap_or(usize::MAX);
    let limited: Vec<RecordBatch> = batches
        .iter()
        .filter_map(|b| {
            if rows_left == 0 {
                return None;
            }
            let n = b.num_rows().min(rows_left);
            rows_left -= n;
            Some(b.slice(0, n))
        })
        .collect();
    let mut out = vec![];
    match format {
        Format::Table => {
            let t = datafusion::arrow::util::pretty::pretty_format_batches_with_schema(
                schema, &limited,
            )
            .map_err(|e| e.to_string())?;
            out.extend(format!("{t}\n").into_bytes());
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for b in &limited {
                w.write(b).map_err(|e| e.to_string())?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
            for b in &limited {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.finish().map_err(|e| e.to_string())?;
        }
        Format::Parquet => {
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)
                .map_err(|e| e.to_string())?;
            for b in &limited {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
        }
    }
    match output {
        Some(path) => {
            std::fs::write(path, &out).map_err(|e| format!("writing {}: {e}", path.display()))
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .map_err(|e| format!("writing the result: {e}"))
        }
    }
}
