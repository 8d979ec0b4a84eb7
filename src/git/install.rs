//! `migmerge install` / `uninstall`: the merge driver in git's configuration, the attributes
//! line that routes `max_migration.txt` to it, and the hook shims.
//!
//! Both commands first plan a list of [`Action`]s from what is there, then either print them
//! (`--print`) or carry them out, so that what is shown is exactly what would be done, and a
//! second run plans nothing.

use std::fmt;
use std::path::{Path, PathBuf};

use super::chain;
use super::cmd::{Git, GitError};

/// The merge driver's name in `merge.<name>.*` and in `merge=<name>` attributes.
pub const DRIVER: &str = "migmerge";

/// The attributes line that hands `max_migration.txt` files to the driver.
pub const ATTRIBUTES_LINE: &str = "**/migrations/max_migration.txt merge=migmerge";

pub const DRIVER_NAME: &str = "migmerge: keeps Django's max_migration.txt equal to the real leaf";

/// The driver's command line, a shell script: git runs it with `sh -c` once it has put the
/// placeholders in (the temporary files' names, which are plain words, and the labels and path
/// quoted for the shell). It falls back to `git merge-file` so that git always gets a real
/// three-way merge (with conflict markers) when migmerge cannot give one: when the binary is
/// missing or turned off, and when it fails or crashes (any status above 1). A driver that
/// cannot run would otherwise leave "ours" unmarked and silently drop "theirs". The `--` keeps
/// labels that look like options (a patch subject under `git am -3`) positional. Written
/// without a `sh -c` of its own: git's shell is the only one started per file.
pub const DRIVER_COMMAND: &str = "if [ \"${MIGMERGE:-1}\" != 0 ] && command -v migmerge \
>/dev/null 2>&1; then migmerge merge-driver -- %O %A %B %L %S %X %Y %P; s=$?; \
[ \"$s\" -le 1 ] && exit \"$s\"; fi; \
exec git merge-file -L %X -L %S -L %Y --marker-size=%L %A %O %B";

/// Why install or uninstall could not go on.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{hook} and {chained} both exist, and {hook} is not migmerge's: move one of them away, \
         then run install again"
    )]
    ChainTaken { hook: PathBuf, chained: PathBuf },
}

/// One change to the repository's setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SetConfig {
        key: String,
        value: String,
    },
    RemoveConfigSection {
        section: String,
    },
    AddLine {
        file: PathBuf,
        line: String,
    },
    RemoveLine {
        file: PathBuf,
        line: String,
    },
    /// Keep a user's hook under another name (or put it back).
    Move {
        from: PathBuf,
        to: PathBuf,
    },
    WriteHook {
        path: PathBuf,
        content: String,
    },
    RemoveFile {
        path: PathBuf,
    },
    /// Stage a work tree file (the shared `.gitattributes`), for the user to commit.
    Stage {
        path: PathBuf,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetConfig { key, value } => write!(f, "git config {key} {value:?}"),
            Action::RemoveConfigSection { section } => {
                write!(f, "git config --remove-section {section}")
            }
            Action::AddLine { file, line } => write!(f, "add `{line}` to {}", file.display()),
            Action::RemoveLine { file, line } => {
                write!(f, "remove `{line}` from {}", file.display())
            }
            Action::Move { from, to } => {
                write!(f, "move {} to {}", from.display(), to.display())
            }
            Action::WriteHook { path, .. } => write!(f, "write hook shim {}", path.display()),
            Action::RemoveFile { path } => write!(f, "remove {}", path.display()),
            Action::Stage { path } => write!(f, "stage {} (git add)", path.display()),
        }
    }
}

/// Where the attributes line goes: the repository's own `info/attributes`, which is never
/// committed, or with `shared` the `.gitattributes` of the work tree.
///
/// Local is the default because an uncommitted `.gitattributes` is an untracked file in the
/// work tree: a merge whose other side adds or changes `.gitattributes` then aborts ("untracked
/// working tree files would be overwritten").
fn attributes_file(git: &Git, shared: bool) -> Result<PathBuf, GitError> {
    if shared {
        Ok(git.work_tree().join(".gitattributes"))
    } else {
        git.git_path("info/attributes")
    }
}

fn has_attributes_line(path: &Path) -> Result<bool, InstallError> {
    Ok(read_lines(path)?
        .iter()
        .any(|l| l.trim() == ATTRIBUTES_LINE))
}

/// What `migmerge install` would change; `shared` puts the attributes line in `.gitattributes`
/// and stages it. `binary` is the migmerge the direct shims name (see
/// [`crate::git::hooks::shim_for`]), used only for the repository's own hooks directory,
/// inside its git directory: a `core.hooksPath` elsewhere may be committed or shared between
/// machines, and gets the shell shims, which find migmerge on PATH.
pub fn plan_install(
    git: &Git,
    shared: bool,
    binary: Option<&Path>,
) -> Result<Vec<Action>, InstallError> {
    let mut actions = Vec::new();
    for (key, value) in [("name", DRIVER_NAME), ("driver", DRIVER_COMMAND)] {
        let key = format!("merge.{DRIVER}.{key}");
        if git.local_config(&key)?.as_deref() != Some(value) {
            actions.push(Action::SetConfig {
                key,
                value: value.to_owned(),
            });
        }
    }
    let attributes = attributes_file(git, shared)?;
    // A `.gitattributes` that already routes the file (committed by a teammate) is enough.
    let routed = has_attributes_line(&attributes)?
        || (!shared && has_attributes_line(&attributes_file(git, true)?)?);
    if !routed {
        actions.push(Action::AddLine {
            file: attributes.clone(),
            line: ATTRIBUTES_LINE.to_owned(),
        });
        if shared {
            actions.push(Action::Stage { path: attributes });
        }
    }
    let hooks = git.git_path("hooks")?;
    let private = own_hooks_dir(git, &hooks)?;
    actions.extend(chain::plan_install(&hooks, binary.filter(|_| private))?);
    Ok(actions)
}

/// Whether `hooks` is the hooks directory inside the repository's (common) git directory,
/// where `info/` is too.
fn own_hooks_dir(git: &Git, hooks: &Path) -> Result<bool, InstallError> {
    let info = git.git_path("info")?;
    let real = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(match (hooks.parent(), info.parent()) {
        (Some(hooks), Some(common)) => real(hooks) == real(common),
        _ => false,
    })
}

/// The migmerge a direct shim should name: the `migmerge` on PATH, under the name PATH gives it
/// (a link a package manager keeps across upgrades stays the name), when it is this very binary:
/// then the shim runs what the shell shim would have found. `None` otherwise (a binary run from
/// a build directory, or from a throwaway environment such as `pipx run`, which may be gone by
/// the next merge): the shell shims, which look on PATH at each run.
pub fn hook_binary() -> Option<PathBuf> {
    let this = std::fs::canonicalize(std::env::current_exe().ok()?).ok()?;
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(BINARY_NAME))
        .find(|candidate| candidate.is_absolute() && candidate.is_file())?;
    (std::fs::canonicalize(&found).ok()? == this).then_some(found)
}

/// The binary's file name, as PATH lookups find it.
const BINARY_NAME: &str = if cfg!(windows) {
    "migmerge.exe"
} else {
    "migmerge"
};

/// What `migmerge uninstall` would change: everything install did, undone, and any hook it
/// kept aside put back.
pub fn plan_uninstall(git: &Git) -> Result<Vec<Action>, InstallError> {
    let mut actions = Vec::new();
    let configured = git
        .local_config(&format!("merge.{DRIVER}.driver"))?
        .is_some()
        || git.local_config(&format!("merge.{DRIVER}.name"))?.is_some();
    if configured {
        actions.push(Action::RemoveConfigSection {
            section: format!("merge.{DRIVER}"),
        });
    }
    for shared in [false, true] {
        let file = attributes_file(git, shared)?;
        if has_attributes_line(&file)? {
            actions.push(Action::RemoveLine {
                file,
                line: ATTRIBUTES_LINE.to_owned(),
            });
        }
    }
    actions.extend(chain::plan_uninstall(&git.git_path("hooks")?)?);
    Ok(actions)
}

/// Carries out planned actions, in order.
pub fn apply(git: &Git, actions: &[Action]) -> Result<(), InstallError> {
    for action in actions {
        match action {
            Action::SetConfig { key, value } => {
                git.run(&["config", "--local", key, value])?;
            }
            Action::RemoveConfigSection { section } => {
                git.run(&["config", "--local", "--remove-section", section])?;
            }
            Action::AddLine { file, line } => {
                let mut text = match read(file)? {
                    Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    None => String::new(),
                };
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(line);
                text.push('\n');
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::write(file, text).map_err(io(file))?;
            }
            Action::RemoveLine { file, line } => {
                let text = read(file)?.unwrap_or_default();
                let text = String::from_utf8_lossy(&text);
                let kept: String = text
                    .split_inclusive('\n')
                    .filter(|l| l.trim() != line)
                    .collect();
                // A file that held nothing but migmerge's line was migmerge's to begin with.
                if kept.trim().is_empty() {
                    std::fs::remove_file(file).map_err(io(file))?;
                } else {
                    std::fs::write(file, kept).map_err(io(file))?;
                }
            }
            Action::Move { from, to } => std::fs::rename(from, to).map_err(io(from))?,
            Action::WriteHook { path, content } => write_executable(path, content)?,
            Action::RemoveFile { path } => std::fs::remove_file(path).map_err(io(path))?,
            Action::Stage { path } => {
                let path = path.to_string_lossy();
                git.run(&["add", "--", &path])?;
            }
        }
    }
    Ok(())
}

fn write_executable(path: &Path, content: &str) -> Result<(), InstallError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, content).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io(path))?;
    }
    Ok(())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file's bytes, `None` when it does not exist.
pub(super) fn read(path: &Path) -> Result<Option<Vec<u8>>, InstallError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn read_lines(path: &Path) -> Result<Vec<String>, InstallError> {
    Ok(read(path)?
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}
