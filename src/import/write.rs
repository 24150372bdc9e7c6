//! Writing a checked plan: every file created new (never over an existing name, never through
//! a symbolic link), all or nothing.

use super::Plan;
use crate::project::layout::Root;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a plan was not written. Whatever was written before the failure has been removed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the import has errors; nothing was written")]
    Refused,
    #[error("`{}` is a symbolic link out of the migrations folder; keel import does not write through it", .0.display())]
    Link(PathBuf),
    #[error("cannot create folder `{}`: {source}", .path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}; the {} written before it were removed, nothing was imported", .path.display(), crate::report::count(*.removed, "file"))]
    File {
        path: PathBuf,
        source: std::io::Error,
        removed: usize,
    },
}

/// Writes every file of `plan`, up then down for each migration, and returns their paths.
/// A plan with errors is refused.
pub fn write(plan: &Plan) -> Result<Vec<PathBuf>, WriteError> {
    if plan.has_errors() {
        return Err(WriteError::Refused);
    }
    if plan.migrations.is_empty() {
        return Ok(Vec::new());
    }
    for sub in ["up", "down"] {
        folder(&plan.dir, &plan.dir.join(sub))?;
    }
    let mut written: Vec<PathBuf> = Vec::new();
    for file in plan.files() {
        if let Err(source) = create(&file.path, &file.text) {
            // Only files this run created are removed: each was created new just now.
            let removed = written
                .iter()
                .filter(|p| std::fs::remove_file(p).is_ok())
                .count();
            return Err(WriteError::File {
                path: file.path.clone(),
                source,
                removed,
            });
        }
        written.push(file.path.clone());
    }
    Ok(written)
}

/// Creates `path` (a folder of the migrations folder `dir`) unless it exists; an existing
/// symbolic link must stay inside `dir`, as keel's loader requires when it reads it back.
fn folder(dir: &Path, path: &Path) -> Result<(), WriteError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && Root::of(dir).refuses(path).is_some()
    {
        return Err(WriteError::Link(path.to_path_buf()));
    }
    std::fs::create_dir_all(path).map_err(|source| WriteError::Folder {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates the new file `path` with `text`; a file that was created but could not be written
/// is removed again.
fn create(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = crate::safe_fs::create_new_shared(path)?;
    f.write_all(text.as_bytes()).inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{plan, Tool};

    #[test]
    fn writes_every_file_or_none() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("1_a.sql"), "SELECT 1;").unwrap();
        std::fs::write(src.join("2_b.sql"), "SELECT 2;").unwrap();
        let sql = tmp.path().join("sql");
        let p = plan(Tool::Supabase, &src, &sql, Default::default()).unwrap();
        // Someone creates the last file between the plan and the write.
        std::fs::create_dir_all(sql.join("down")).unwrap();
        std::fs::write(sql.join("down/2_b.sql"), "mine").unwrap();
        match write(&p) {
            Err(WriteError::File { path, removed, .. }) => {
                assert_eq!(path, sql.join("down/2_b.sql"));
                assert_eq!(removed, 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_to_string(sql.join("down/2_b.sql")).unwrap(),
            "mine"
        );
        assert_eq!(std::fs::read_dir(sql.join("up")).unwrap().count(), 0);
        std::fs::remove_file(sql.join("down/2_b.sql")).unwrap();
        let written = write(&p).unwrap();
        assert_eq!(written.len(), 4);
        assert_eq!(
            std::fs::read_to_string(&written[0]).unwrap(),
            p.migrations[0].up.text
        );
    }

    #[test]
    fn a_linked_folder_out_of_the_project_is_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("1_a.sql"), "SELECT 1;").unwrap();
        let sql = tmp.path().join("sql");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&sql).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, sql.join("up")).unwrap();
        let p = plan(Tool::Supabase, &src, &sql, Default::default()).unwrap();
        assert!(matches!(write(&p), Err(WriteError::Link(_))));
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
