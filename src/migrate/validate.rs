//! Full validation of the files a plan executes: sqlparser, then the
//! server's parser for what sqlparser could not read, then strictness.

use super::{guard::changed_during_run, step_file, Error, Event, Sink};
use crate::diagnostic::{codes, Diagnostic};
use crate::plan::Plan;
use crate::project::SqlFile;
use crate::session::Session;
use crate::sql::validate::{Options, Parse};

/// Validates every file `plan` executes. Warnings go to the sink; errors
/// stop the run before anything executes.
pub fn validate_plan(
    session: &mut Session,
    plan: &Plan<'_>,
    strict: bool,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let files: Vec<&SqlFile> = plan.steps.iter().map(step_file).collect();
    // Each file is read again, checked and dropped; only statements
    // sqlparser rejected are kept, with their file, for the server's parser.
    // Files go by batches, so that memory stays flat however many
    // migrations run.
    let mut checked = Vec::with_capacity(files.len());
    let mut kept = Vec::new();
    for batch in files.chunks(256) {
        let results = crate::parallel::map(batch, 1, |f| {
            let file = f.reread()?;
            let mut c = crate::sql::validate::check_file(&file, Options { strict: false });
            c.statements
                .retain(|s| matches!(s.parse, Parse::Rejected { .. }));
            // Usually nothing is left: give the space back.
            c.statements.shrink_to_fit();
            c.diagnostics.shrink_to_fit();
            let keep = (!c.statements.is_empty()).then(|| file.into_owned());
            Ok::<_, Box<Diagnostic>>((keep, c))
        });
        for r in results {
            match r {
                Ok((keep, c)) => {
                    kept.extend(keep.map(|f| (checked.len(), f)));
                    checked.push(c);
                }
                Err(d) => return Err(changed_during_run(&d, sink)),
            }
        }
    }
    let kept_files: Vec<&SqlFile> = kept.iter().map(|(_, f)| f).collect();
    let mut kept_checks: Vec<_> = kept
        .iter()
        .map(|(i, _)| std::mem::take(&mut checked[*i]))
        .collect();
    session.server_validate(&kept_files, &mut kept_checks)?;
    for ((i, _), c) in kept.iter().zip(kept_checks) {
        checked[*i] = c;
    }
    let mut diags: Vec<Diagnostic> = checked.into_iter().flat_map(|c| c.diagnostics).collect();
    if strict {
        for d in &mut diags {
            if d.code == codes::UNVALIDATED {
                d.severity = crate::diagnostic::Severity::Error;
            }
        }
    }
    sink.event(Event::Diagnostics(&diags));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Error::failed(
            "nothing was applied: the migrations to run have errors",
            None,
        ));
    }
    Ok(())
}
