//! `keel revision -m "message"`: a new, sealed up/down pair.

use super::{Context, Failure};
use crate::header::{self, Checksum};
use crate::project::{self, slug, Version};
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct RevisionArgs {
    /// What the migration does; becomes the file name and the `message` header
    #[arg(short, long)]
    pub message: String,
    /// Mark both files `-- keel:transaction off` (for CREATE INDEX CONCURRENTLY and the like)
    #[arg(long)]
    pub no_transaction: bool,
}

pub fn run(ctx: &Context, args: RevisionArgs) -> Result<(), Failure> {
    let dir = &ctx.config.dir;
    if args.message.trim().is_empty() {
        return Err(Failure::usage(
            "the message is empty",
            Some("say what the migration does: `keel revision -m \"add items\"`".to_string()),
        ));
    }
    let up_dir = dir.join("up");
    let down_dir = dir.join("down");
    for d in [&up_dir, &down_dir] {
        // A linked folder that leaves the migrations folder is not written through (keel
        // would not read it back either).
        if std::fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()) {
            if let Some(why) = crate::project::layout::Root::of(dir).refuses(d) {
                return Err(Failure::failed(
                    format!(
                        "`{}`: {why}; keel revision does not write through it",
                        d.display()
                    ),
                    Some("make it a folder of the migrations folder".to_string()),
                ));
            }
        }
        std::fs::create_dir_all(d)
            .map_err(|e| Failure::failed(format!("cannot create `{}`: {e}", d.display()), None))?;
    }
    // Two `keel revision` at once would both take the next number: the second waits for the
    // first (a lock on the up folder itself, released when keel ends).
    let _lock = lock_folder(&up_dir)?;
    let existing = match project::load(dir) {
        Ok(l) => Some(l),
        Err(project::ProjectError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (next, width) = match &existing {
        Some(l) => {
            // Versions in files that failed to pair still count: a new file
            // must never reuse a number.
            let highest = highest_version_on_disk(dir);
            (highest.map_or(1, |v| v + 1), l.project.version_width())
        }
        None => (1, 4),
    };
    let version = Version::with_width(next, width);
    if version.width() > 20 {
        return Err(Failure::failed(
            format!("the next version, {next}, would have more than 20 digits"),
            Some(
                "versions are 1 to 20 digits; renumber the migrations or start a new folder"
                    .to_string(),
            ),
        ));
    }
    let name = format!("{}_{}.sql", version, slug(&args.message));
    let extra: &[&str] = if args.no_transaction {
        &["transaction off"]
    } else {
        &[]
    };
    let empty = Checksum::of_body("");
    let up = header::render(empty, Some(&args.message), extra);
    let down = header::render(empty, Some(&args.message), extra);
    let up_path = up_dir.join(&name);
    let down_path = down_dir.join(&name);
    for (path, text) in [(&up_path, up), (&down_path, down)] {
        write_new(path, &text)?;
    }
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Revision {
            version: version.digits(),
            up: &up_path,
            down: &down_path,
        });
    } else {
        r.line(format!("created {}", up_path.display()));
        r.line(format!("created {}", down_path.display()));
        r.note(format!(
            "next: write the SQL in both files, then run `keel seal {}`",
            version.number()
        ));
    }
    Ok(())
}

/// The highest version number of any `.sql` file in `up/` or `down/`.
fn highest_version_on_disk(dir: &std::path::Path) -> Option<u128> {
    ["up", "down"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            project::parse_file_name(&e.file_name().to_string_lossy())
                .ok()
                .map(|(v, _)| v.number())
        })
        .max()
}

/// Holds an exclusive `flock` on the folder `dir` while the returned file is open.
fn lock_folder(dir: &std::path::Path) -> Result<std::fs::File, Failure> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)
        .map_err(|e| Failure::failed(format!("cannot open `{}`: {e}", dir.display()), None))?;
    // SAFETY: flock(2) on a descriptor we own; no memory involved.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Failure::failed(
            format!(
                "cannot lock `{}`: {}",
                dir.display(),
                std::io::Error::last_os_error()
            ),
            None,
        ));
    }
    Ok(f)
}

/// Creates `path`, refusing to overwrite anything.
fn write_new(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Failure::failed(format!("cannot create `{}`: {e}", path.display()), None))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Failure::failed(format!("cannot write `{}`: {e}", path.display()), None))
}
