//! `migmerge apps`: the project model, each fact with its source.

use anyhow::Result;

use crate::cli::{AppsArgs, AppsFormat};
use crate::commands::check::open_source;
use crate::commands::{ExitStatus, Outcome};
use crate::graph::Graph;
use crate::migration::Detail;
use crate::project::{self, summary};

pub fn run(args: &AppsArgs) -> Result<Outcome> {
    let source = open_source(&args.source)?;
    let project = project::load_with(source.as_ref(), Detail::Graph)?;
    let graph = Graph::build(&project);
    let view = summary::summarize(&project, &graph.leaves());
    let stdout = match args.format {
        AppsFormat::Human => view.to_human(),
        AppsFormat::Json => view.to_json() + "\n",
    };
    Ok(Outcome {
        stdout,
        status: ExitStatus::Success,
    })
}
