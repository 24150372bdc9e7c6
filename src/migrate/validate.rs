//! Validation with a database, in one place for every command that has one
//! (`check`, `upgrade`, `downgrade`, `verify`, `policies test`): sqlparser,
//! then the server's parser for what sqlparser could not read, then
//! strictness.

use super::{guard::changed_during_run, Error, Event, Sink};
use crate::diagnostic::{codes, Diagnostic};
use crate::plan::{Plan, Step};
use crate::project::{SqlFile, SqlText};
use crate::session::Session;
use crate::sql::check::{CheckedFile, Options, Parse};

/// Settles what sqlparser could not: the statements it rejected in `checked`
/// (one entry per file of `files`) go to the server's parser, which accepts
/// them (their `unvalidated` warning goes) or finds a real syntax error. With
/// `strict`, what neither parser validated is an error. Returns how many
/// statements the server validated.
pub fn settle(
    session: &mut Session,
    files: &[&SqlText],
    checked: &mut [CheckedFile],
    strict: bool,
) -> Result<usize, Error> {
    let by_server = session.server_validate(files, checked)?;
    if strict {
        for d in checked.iter_mut().flat_map(|c| c.diagnostics.iter_mut()) {
            if d.code == codes::UNVALIDATED {
                d.severity = crate::diagnostic::Severity::Error;
            }
        }
    }
    Ok(by_server)
}

/// Checks `files` with sqlparser on every core, then [`settle`]s them.
pub fn validate_files(
    session: &mut Session,
    files: &[&SqlText],
    strict: bool,
) -> Result<Vec<CheckedFile>, Error> {
    let mut checked = crate::project_check::check_parallel(
        files,
        Options {
            strict,
            ..Options::default()
        },
    );
    settle(session, files, &mut checked, strict)?;
    Ok(checked)
}

/// Reads `files` (each must still be the file that was loaded) and
/// [`validate_files`] them, with every problem sent to the sink; an error
/// saying `refused` (what did not happen) when a file has one.
pub fn validate_or_refuse(
    session: &mut Session,
    files: &[SqlFile],
    refused: &str,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let texts = files
        .iter()
        .map(SqlFile::read)
        .collect::<Result<Vec<SqlText>, _>>()
        .map_err(|d| changed_during_run(&d, sink))?;
    let refs: Vec<&SqlText> = texts.iter().collect();
    let checked = validate_files(session, &refs, false)?;
    let diags: Vec<Diagnostic> = checked.into_iter().flat_map(|c| c.diagnostics).collect();
    sink.event(Event::Diagnostics(&diags));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Error::failed(
            refused,
            Some("`keel check` lists them".to_string()),
        ));
    }
    Ok(())
}

/// Validates every file `plan` executes. Warnings go to the sink; errors
/// stop the run before anything executes.
pub fn validate_plan(
    session: &mut Session,
    plan: &Plan<'_>,
    strict: bool,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    // Each file is read again, checked and dropped; only what has something
    // to say is kept: its diagnostics, and the file with the statements
    // sqlparser rejected, for the server's parser. Files go by batches, so
    // that memory stays flat however many migrations run.
    let mut checked: Vec<CheckedFile> = Vec::new();
    let mut kept: Vec<(usize, SqlText)> = Vec::new();
    for steps in plan.steps.chunks(256) {
        let batch: Vec<SqlFile> = steps.iter().map(Step::file).collect();
        let results = crate::parallel::map(&batch, 1, |f| {
            let file = f.read()?;
            let mut c = crate::sql::check::check_file(&file, Options::default());
            c.statements
                .retain(|s| matches!(s.parse, Parse::Rejected { .. }));
            let keep = (!c.statements.is_empty()).then_some(file);
            Ok::<_, Box<Diagnostic>>((keep, c))
        });
        for r in results {
            match r {
                Ok((None, c)) if c.diagnostics.is_empty() => {}
                Ok((keep, mut c)) => {
                    c.statements.shrink_to_fit();
                    c.diagnostics.shrink_to_fit();
                    kept.extend(keep.map(|f| (checked.len(), f)));
                    checked.push(c);
                }
                Err(d) => return Err(changed_during_run(&d, sink)),
            }
        }
    }
    let kept_files: Vec<&SqlText> = kept.iter().map(|(_, f)| f).collect();
    let mut kept_checks: Vec<_> = kept
        .iter()
        .map(|(i, _)| std::mem::take(&mut checked[*i]))
        .collect();
    settle(session, &kept_files, &mut kept_checks, false)?;
    for ((i, _), c) in kept.iter().zip(kept_checks) {
        checked[*i] = c;
    }
    // Strictness covers every file, not only those the server looked at.
    let diags: Vec<Diagnostic> = checked
        .into_iter()
        .flat_map(|c| c.diagnostics)
        .map(|mut d| {
            if strict && d.code == codes::UNVALIDATED {
                d.severity = crate::diagnostic::Severity::Error;
            }
            d
        })
        .collect();
    sink.event(Event::Diagnostics(&diags));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Error::failed(
            "nothing was applied: the migrations to run have errors",
            None,
        ));
    }
    Ok(())
}
