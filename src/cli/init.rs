//! `keel init`: a new project's layout and a commented `keel.toml`, like
//! Alembic's `init`. It never overwrites anything: every conflict is found
//! before the first folder is created.

use super::{Context, Failure};
use crate::config::FILE_NAME;
use crate::report::json;
use std::path::{Path, PathBuf};

/// Empty folders get this file so that git keeps them (keel ignores
/// dot-files).
const KEEP: &str = ".gitkeep";

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Migrations folder to create [default: the global --dir, else sql]
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: InitArgs) -> Result<(), Failure> {
    // The subcommand's own --dir wins over the global one (already in the
    // configuration, with $KEEL_DIR).
    let dir = args.dir.unwrap_or_else(|| ctx.config.dir.clone());
    let config_path = PathBuf::from(FILE_NAME);
    let config_text = config_file(&dir)?;

    let conflicts = conflicts(&config_path, &dir)?;
    if !conflicts.is_empty() {
        return Err(Failure::failed(
            format!("{}; nothing was created", conflicts.join("; ")),
            Some(
                "keel init never overwrites: run it in a new project, or pass `--dir` with a new or empty folder"
                    .to_string(),
            ),
        ));
    }

    let mut created = Created::default();
    let result = create(&mut created, &dir, &config_path, &config_text);
    if let Err(e) = result {
        created.undo();
        return Err(e);
    }

    // `revision -m "create households"` makes version 1 with this name.
    let first = "0001_create_households.sql";
    let next = [
        "keel revision -m \"create households\"".to_string(),
        format!(
            "$EDITOR {} {} && keel seal",
            dir.join("up").join(first).display(),
            dir.join("down").join(first).display()
        ),
        "keel upgrade".to_string(),
    ];
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Init {
            created: created.shown(),
            config: &config_path,
            dir: &dir,
            next: &next,
        });
    } else {
        for p in created.shown() {
            r.line(format!("created {}", p.display()));
        }
        r.note("next: create a migration, write its SQL and seal it, then apply it");
        r.note(format!("  {}", next[0]));
        r.note(format!("  {}", next[1]));
        r.note(format!(
            "  {}    # with DATABASE_URL set, or after `export DATABASE_URL=$(keel dev-db start)`",
            next[2]
        ));
    }
    Ok(())
}

/// Everything that stops `init`, each naming its path.
fn conflicts(config_path: &Path, dir: &Path) -> Result<Vec<String>, Failure> {
    let mut found = Vec::new();
    if std::fs::symlink_metadata(config_path).is_ok() {
        found.push(format!("`{}` already exists", config_path.display()));
    }
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Failure::failed(
                format!("cannot read `{}`: {e}", dir.display()),
                None,
            ))
        }
        Ok(m) if !m.is_dir() => {
            found.push(format!("`{}` exists and is not a folder", dir.display()));
        }
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir).map_err(|e| {
                Failure::failed(format!("cannot read `{}`: {e}", dir.display()), None)
            })?;
            if entries.next().is_some() {
                found.push(format!("`{}` is not empty", dir.display()));
            }
        }
    }
    Ok(found)
}

/// What this run created, in order, so that a failure half-way can take it
/// back.
#[derive(Default)]
struct Created {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// The folders and files worth naming in the output.
    shown: Vec<PathBuf>,
}

impl Created {
    fn shown(&self) -> &[PathBuf] {
        &self.shown
    }

    fn undo(&self) {
        for f in self.files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    /// Creates `path` and any missing parent, remembering each.
    fn dir(&mut self, path: &Path) -> Result<(), Failure> {
        let mut missing = Vec::new();
        let mut p = Some(path);
        while let Some(d) = p {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        for d in missing.into_iter().rev() {
            std::fs::create_dir(&d).map_err(|e| {
                Failure::failed(format!("cannot create `{}`: {e}", d.display()), None)
            })?;
            self.dirs.push(d);
        }
        Ok(())
    }

    /// Writes a new file; an existing one is an error, never overwritten.
    fn file(&mut self, path: &Path, text: &str) -> Result<(), Failure> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                Failure::failed(format!("cannot create `{}`: {e}", path.display()), None)
            })?;
        self.files.push(path.to_path_buf());
        f.write_all(text.as_bytes())
            .map_err(|e| Failure::failed(format!("cannot write `{}`: {e}", path.display()), None))
    }
}

fn create(created: &mut Created, dir: &Path, config: &Path, text: &str) -> Result<(), Failure> {
    for sub in ["up", "down", "policies/tests"] {
        let d = dir.join(sub);
        created.dir(&d)?;
        created.file(&d.join(KEEP), "")?;
        created.shown.push(d);
    }
    created.file(config, text)?;
    created.shown.insert(0, config.to_path_buf());
    keel_gitignore(created)
}

/// `.keel/.gitignore` (`*`), so that the local dev database `keel dev-db`
/// keeps there is never committed. An existing `.keel` that is not a real
/// folder (a symbolic link, a file) and an existing `.gitignore` are left
/// alone: init never overwrites and never follows a link.
fn keel_gitignore(created: &mut Created) -> Result<(), Failure> {
    let keel_dir = Path::new(".keel");
    match std::fs::symlink_metadata(keel_dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(()),
        Err(_) => created.dir(keel_dir)?,
    }
    let path = keel_dir.join(crate::db::cluster::KEEL_GITIGNORE);
    match crate::db::cluster::write_keel_gitignore(keel_dir) {
        Ok(true) => {
            created.files.push(path);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(Failure::failed(
            format!("cannot create `{}`: {e}", path.display()),
            None,
        )),
    }
}

/// The commented `keel.toml` for the migrations folder `dir`.
fn config_file(dir: &Path) -> Result<String, Failure> {
    crate::config::template(dir).ok_or_else(|| {
        Failure::usage(
            format!("the folder name `{}` is not UTF-8", dir.display()),
            Some("keel.toml can only name UTF-8 paths; pick another --dir".to_string()),
        )
    })
}
