//! `dekit init [DIR] --template warehouse|clickstream|files`: a new stack from a template (see
//! `crate::init`). On a terminal, what is not given as a flag is asked; otherwise `--template` is
//! required. Existing files are never overwritten.

use crate::init::{self, Database, Options, Template};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory of the new stack (created when absent).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The template (asked on a terminal when not given).
    #[arg(long, short, value_enum)]
    pub template: Option<Template>,
    /// The stack's name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The warehouse template's source database.
    #[arg(long, value_enum)]
    pub database: Option<Database>,
}

pub fn run(a: Args) -> ExitCode {
    let ask = std::io::stdin().is_terminal();
    match options(&a, ask).and_then(|o| {
        init::write(&a.dir, &init::render(&o))?;
        Ok(o)
    }) {
        Ok(o) => {
            print_next(&a.dir, &o);
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&e),
    }
}

fn options(a: &Args, ask: bool) -> Result<Options, String> {
    let template = match a.template {
        Some(t) => t,
        None if ask => choose_template()?,
        None => {
            let all: Vec<&str> = Template::ALL.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "no terminal to ask which template: pass --template ({})",
                all.join(", ")
            ));
        }
    };
    let guessed = init::name_from_dir(&a.dir);
    let name = match (&a.name, guessed) {
        (Some(n), _) => n.clone(),
        (None, Some(g)) if ask => {
            let answer = prompt(&format!("Stack name [{g}]: "))?;
            if answer.is_empty() { g } else { answer }
        }
        (None, Some(g)) => g,
        (None, None) if ask => prompt("Stack name: ")?,
        (None, None) => {
            return Err(format!(
                "{} is not a stack name (lowercase letters, digits and `-`): pass --name",
                a.dir.display()
            ));
        }
    };
    init::check_name(&name)?;
    let database = match (a.database, template) {
        (Some(d), _) => d,
        (None, Template::Warehouse) if ask => {
            match prompt("Source database, postgres or mysql [postgres]: ")?.as_str() {
                "" | "postgres" => Database::Postgres,
                "mysql" => Database::Mysql,
                other => return Err(format!("`{other}` is neither postgres nor mysql")),
            }
        }
        (None, _) => Database::Postgres,
    };
    Ok(Options {
        template,
        name,
        database,
    })
}

fn choose_template() -> Result<Template, String> {
    println!("Which template?");
    for (i, t) in Template::ALL.iter().enumerate() {
        println!("  {}. {:<12} {}", i + 1, t.as_str(), t.summary());
    }
    let answer = prompt("Template [1]: ")?;
    if answer.is_empty() {
        return Ok(Template::ALL[0]);
    }
    Template::ALL
        .iter()
        .enumerate()
        .find(|(i, t)| answer == (i + 1).to_string() || answer == t.as_str())
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("`{answer}` is not one of the templates"))
}

fn prompt(question: &str) -> Result<String, String> {
    print!("{question}");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(answer.trim().to_string())
}

fn print_next(dir: &std::path::Path, o: &Options) {
    let here = dir == std::path::Path::new(".");
    println!(
        "Created the stack `{}` from the {} template{}.",
        o.name,
        o.template.as_str(),
        if here {
            String::new()
        } else {
            format!(" in {}", dir.display())
        }
    );
    println!("\nNext:");
    if !here {
        println!("  cd {}", dir.display());
    }
    println!("  dekit local start         # the local cloud (and database) on this machine");
    println!("  dekit apply stack.yaml");
    if o.template == Template::Clickstream {
        println!("  dekit produce stack.yaml events");
    }
    println!("  dekit run stack.yaml");
    println!("  dekit test stack.yaml");
    println!("README.md says more, and what to change first.");
}
