//! Loading the project for a run: the layout and every file's header and
//! checksum, and the declared policies. Statement checks come later, for the
//! files a run will execute.

use super::{Error, Event, Sink};
use crate::config::Config;
use crate::diagnostic::{codes, Diagnostic};
use crate::policies::declared::Declared;
use crate::project::{Layout, Project, SqlText};
use crate::project_check;
use crate::sql::check::{self, Options};
use std::path::Path;

/// Loads the project and checks what must hold before any run.
pub fn load(config: &Config, sink: &mut dyn Sink) -> Result<(Project, Declared), Error> {
    checked(crate::project::scan(&config.dir)?, &[], sink)
}

/// [`load`] that tolerates an unsealed edit (a checksum that does not match
/// its body, or none) in the files `unsealed`: `keel repair` seals and
/// records them, so the edit a DBA made by hand is not a dead end. Every
/// other problem in the folder still refuses.
pub fn load_accepting_edits(
    layout: Layout,
    unsealed: &[&Path],
    sink: &mut dyn Sink,
) -> Result<(Project, Declared), Error> {
    checked(layout, unsealed, sink)
}

/// [`load`] of a folder already listed. Each file's header is checked as it
/// is read and its text dropped: a run reads a file again when it checks and
/// runs it, so its memory stays flat however many migrations there are.
pub(super) fn checked(
    layout: Layout,
    unsealed: &[&Path],
    sink: &mut dyn Sink,
) -> Result<(Project, Declared), Error> {
    let loaded = crate::project::load_layout(layout, |f, diags| {
        check::header_diagnostics(&f, diags);
    });
    let mut diags = loaded.diagnostics;
    diags.retain(|d| {
        !(is_unsealed_edit(d) && d.path.as_deref().is_some_and(|p| unsealed.contains(&p)))
    });
    let policies: Vec<SqlText> = loaded
        .project
        .policies
        .iter()
        .filter_map(|f| f.read().map_err(|d| diags.push(*d)).ok())
        .collect();
    let declared = declare_policies(&policies, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        sink.event(Event::Diagnostics(&diags));
        return Err(Error::failed(
            "nothing was applied: the migrations folder has errors",
            Some("`keel check --offline` lists them".to_string()),
        ));
    }
    Ok((loaded.project, declared))
}

/// The declared policies when the database is at head and only the policy
/// stage runs; `None` when the policy folder cannot even be listed (a full
/// run reports why).
pub(super) fn policies_at_head(dir: &Path, sink: &mut dyn Sink) -> Result<Option<Declared>, Error> {
    let mut diags = Vec::new();
    let (policy_paths, _) = crate::project::scan_policies(dir, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Ok(None);
    }
    let policy_files = crate::project::read_policies(&policy_paths, &mut diags);
    let declared = declare_policies(&policy_files, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        sink.event(Event::Diagnostics(&diags));
        return Err(Error::failed(
            "nothing was applied: the policy files have errors",
            Some("`keel check --offline` lists them".to_string()),
        ));
    }
    Ok(Some(declared))
}

/// Policy files are small and always applied: they are validated fully,
/// then declared.
fn declare_policies(policies: &[SqlText], diags: &mut Vec<Diagnostic>) -> Declared {
    let refs: Vec<&SqlText> = policies.iter().collect();
    diags.extend(
        project_check::check_parallel(&refs, Options::default())
            .into_iter()
            .flat_map(|c| c.diagnostics)
            .filter(|d| !is_unsealed_edit(d)),
    );
    let declared = crate::policies::declared::declare(policies);
    diags.extend(declared.diagnostics.iter().cloned());
    declared
}

/// A file edited without `keel seal`: its checksum line is missing or does
/// not match its body.
fn is_unsealed_edit(d: &Diagnostic) -> bool {
    d.code == codes::CHECKSUM_MISMATCH || d.code == codes::MISSING_CHECKSUM
}
