//! The hook shims migmerge installs, kept as files in the top-level `hooks/` directory so that
//! they can be read, reviewed and copied by hand, and the direct form some of them take in a
//! repository's own hooks directory.

use std::path::Path;

/// The first line after the shebang of every shim: how install and uninstall recognise
/// migmerge's own files and never mistake a user's hook for one.
pub const SHIM_MARKER: &str = "# migmerge-shim ";

/// Where a hook that was in place before migmerge is kept; the shim runs it first.
pub const CHAINED_SUFFIX: &str = ".migmerge-chained";

/// Every hook migmerge installs, with its shim.
pub const SHIMS: &[(&str, &str)] = &[
    ("post-merge", include_str!("../../hooks/post-merge")),
    ("post-rewrite", include_str!("../../hooks/post-rewrite")),
    ("pre-commit", include_str!("../../hooks/pre-commit")),
];

/// Hooks earlier versions installed and this one no longer does: install and uninstall remove
/// their shims and put back what they kept. `prepare-commit-msg` added `pre-commit`'s line to
/// the message; `pre-commit` now writes it into `MERGE_MSG` itself, which git reads after it,
/// so no hook process runs for it on every commit and merge.
pub const RETIRED: &[&str] = &["prepare-commit-msg"];

/// Whether a hook file's content is one of migmerge's shims (any version).
pub fn is_shim(content: &[u8]) -> bool {
    shim_name(content).is_some()
}

/// The hook a shim is for, from its marker line (`# migmerge-shim post-merge: ...`); `None`
/// for a file that is no shim.
pub fn shim_name(content: &[u8]) -> Option<&str> {
    let line = content
        .split(|&b| b == b'\n')
        .take(3)
        .find_map(|line| line.strip_prefix(SHIM_MARKER.as_bytes()))?;
    let name = line.split(|&b| b == b':').next()?;
    std::str::from_utf8(name).ok().filter(|n| !n.is_empty())
}

/// The hooks whose shim starts migmerge on every run (git runs `post-merge` after every merge
/// commit), and which install therefore writes with migmerge itself as the interpreter where it
/// can: no shell then starts between git and migmerge, which is about a third of what a merge
/// that concerns no migration pays for the hook. The others stay shell scripts: `pre-commit`'s
/// shell rules out ordinary commits without starting migmerge at all, and `post-rewrite` hands
/// its standard input to two programs.
pub const DIRECT: &[&str] = &["post-merge"];

/// The subcommand a direct shim's first line names: `#!<migmerge> run-hook`, so that the
/// kernel runs `<migmerge> run-hook <this file> <git's arguments>`.
pub const RUN_HOOK: &str = "run-hook";

/// The longest first line every Unix kernel still in use reads whole (Linux before 5.1 read
/// 127 bytes of it); a longer one would run something else.
const SHEBANG_MAX: usize = 127;

/// The shim migmerge writes for hook `name` whose shell form is `shell`: the direct form,
/// with `binary` as its interpreter, when `name` is one of [`DIRECT`] and `binary` can stand in
/// a first line (absolute, UTF-8, no blank or control character, short enough); else `shell`.
/// `binary` is `None` where the shims must not name a binary of this machine (a hooks
/// directory that others may share).
pub fn shim_for(name: &str, shell: &str, binary: Option<&Path>) -> String {
    binary
        .filter(|_| cfg!(unix) && DIRECT.contains(&name))
        .and_then(|binary| direct_shim(name, binary))
        .unwrap_or_else(|| shell.to_owned())
}

fn direct_shim(name: &str, binary: &Path) -> Option<String> {
    let path = binary.to_str()?;
    let usable =
        path.starts_with('/') && !path.chars().any(|c| c.is_whitespace() || c.is_control());
    let shebang = format!("#!{path} {RUN_HOOK}");
    (usable && shebang.len() <= SHEBANG_MAX).then(|| {
        format!(
            "{shebang}\n\
             {SHIM_MARKER}{name}: installed by `migmerge install`, removed by `migmerge uninstall`.\n\
             # git runs this file with the migmerge binary above as its interpreter, with no shell\n\
             # in between. It runs the {name} hook that was here before migmerge (kept as\n\
             # {name}{CHAINED_SUFFIX}) first, then migmerge's own; MIGMERGE=0 turns migmerge off.\n\
             # Should that binary go away, git says it cannot run this hook (the merge itself is\n\
             # done as without migmerge): run `migmerge install` again, or `migmerge uninstall`.\n"
        )
    })
}

/// Runs the hook kept as `<hook>.migmerge-chained` beside `hook_file`, if there is one that
/// may be executed, with git's arguments, as the shell shims do: its exit status, `None` when
/// there is none. A file without a `#!` line is run by `sh`, as git and the shell run one.
#[cfg(unix)]
pub fn run_chained(hook_file: &Path, name: &str, args: &[String]) -> std::io::Result<Option<i32>> {
    use std::os::unix::fs::PermissionsExt as _;
    let chained = hook_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{name}{CHAINED_SUFFIX}"));
    let executable = std::fs::metadata(&chained)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Ok(None);
    }
    let status = match std::process::Command::new(&chained).args(args).status() {
        Err(err) if err.raw_os_error() == Some(libc::ENOEXEC) => std::process::Command::new("sh")
            .arg(&chained)
            .args(args)
            .status()?,
        other => other?,
    };
    // Killed by a signal: the shell's 128 + signal.
    Ok(Some(status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt as _;
        128 + status.signal().unwrap_or(0)
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shim_is_recognised_and_names_its_hook() {
        for (name, shim) in SHIMS {
            assert!(is_shim(shim.as_bytes()), "{name}");
            assert!(shim.starts_with("#!/bin/sh\n"), "{name}");
            assert!(shim.contains(&format!("hook={name}\n")), "{name}");
            assert!(shim.contains("migmerge hook \"$hook\" \"$@\""), "{name}");
        }
        assert!(!is_shim(b"#!/bin/sh\necho mine\n"));
    }

    fn shell(name: &str) -> &'static str {
        SHIMS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn post_merge_names_its_binary_where_a_first_line_can_hold_it() {
        let binary = Path::new("/usr/local/bin/migmerge");
        let shim = shim_for("post-merge", shell("post-merge"), Some(binary));
        if cfg!(unix) {
            assert!(
                shim.starts_with(
                    "#!/usr/local/bin/migmerge run-hook\n# migmerge-shim post-merge: "
                ),
                "{shim}"
            );
            assert!(!shim.contains("\n#!"), "{shim}");
        } else {
            assert_eq!(shim, shell("post-merge"));
        }
        assert!(is_shim(shim.as_bytes()));
        assert_eq!(shim_name(shim.as_bytes()), Some("post-merge"));
        // No binary (a shared hooks directory), or one a first line cannot hold: the shell shim.
        let long = format!("/{}/migmerge", "d".repeat(SHEBANG_MAX));
        for binary in [
            None,
            Some("migmerge"),
            Some("bin/migmerge"),
            Some("/home/a user/bin/migmerge"),
            Some("/opt/bin\tx/migmerge"),
            Some(long.as_str()),
        ] {
            let shim = shim_for("post-merge", shell("post-merge"), binary.map(Path::new));
            assert_eq!(shim, shell("post-merge"), "{binary:?}");
        }
        // The hooks whose shell rules work out without migmerge keep it.
        for name in ["pre-commit", "post-rewrite"] {
            assert_eq!(shim_for(name, shell(name), Some(binary)), shell(name));
        }
    }

    #[test]
    fn shim_names_come_from_the_marker_line_only() {
        assert_eq!(
            shim_name(shell("pre-commit").as_bytes()),
            Some("pre-commit")
        );
        assert_eq!(shim_name(b"#!/bin/sh\n# migmerge-shim : x\n"), None);
        assert_eq!(
            shim_name(b"#!/bin/sh\n\n\n# migmerge-shim post-merge: late\n"),
            None
        );
        assert_eq!(shim_name(b""), None);
    }

    /// The kept hook runs with git's arguments and its status comes back; one without a `#!`
    /// line runs under `sh`, as git runs it; none, or one that may not be executed, is `None`.
    #[cfg(unix)]
    #[test]
    fn the_kept_hook_runs_first_with_its_status() {
        let bench = Bench::new("post-merge");
        let hook = bench.dir.path().join(".git/hooks/post-merge");
        let kept = bench
            .dir
            .path()
            .join(".git/hooks/post-merge.migmerge-chained");
        let args = ["0".to_owned()];
        assert_eq!(run_chained(&hook, "post-merge", &args).unwrap(), None);
        let seen = bench.dir.path().join("seen");
        Bench::executable(
            &kept,
            &format!("#!/bin/sh\necho \"$@\" > '{}'\nexit 3\n", seen.display()),
        );
        assert_eq!(run_chained(&hook, "post-merge", &args).unwrap(), Some(3));
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), "0\n");
        Bench::executable(&kept, &format!("echo plain > '{}'\n", seen.display()));
        assert_eq!(run_chained(&hook, "post-merge", &args).unwrap(), Some(0));
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), "plain\n");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(run_chained(&hook, "post-merge", &args).unwrap(), None);
    }

    /// A hooks directory with one shim, run by `sh` as git runs it: from the top of a work
    /// tree whose `.git` is a directory, with a stand-in `migmerge` on PATH when asked for.
    struct Bench {
        dir: tempfile::TempDir,
        hook: &'static str,
    }

    impl Bench {
        fn new(hook: &'static str) -> Bench {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join(".git/hooks")).unwrap();
            std::fs::create_dir_all(dir.path().join("bin")).unwrap();
            let shim = SHIMS.iter().find(|(name, _)| *name == hook).unwrap().1;
            Bench::executable(&dir.path().join(".git/hooks").join(hook), shim);
            Bench { dir, hook }
        }

        fn executable(path: &std::path::Path, content: &str) {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(path, content).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        /// A `migmerge` on PATH that records that it ran and exits with `status`.
        fn migmerge_exits(&self, status: i32) {
            let ran = self.dir.path().join("migmerge-ran");
            Bench::executable(
                &self.dir.path().join("bin/migmerge"),
                &format!(
                    "#!/bin/sh\necho \"$@\" >> '{}'\nexit {status}\n",
                    ran.display()
                ),
            );
        }

        /// The hook that was there before migmerge, exiting with `status`.
        fn chained_exits(&self, status: i32) {
            let path = self
                .dir
                .path()
                .join(format!(".git/hooks/{}{CHAINED_SUFFIX}", self.hook));
            Bench::executable(&path, &format!("#!/bin/sh\nexit {status}\n"));
        }

        fn touch(&self, path: &str) {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }

        /// Runs the shim: its exit status, what it printed on stderr, whether migmerge ran.
        fn run(&self, env: &[(&str, &str)]) -> (i32, String, bool) {
            self.run_with("message-file", env, "")
        }

        /// As git runs `post-rewrite` after a rebase: `rebase` as its argument, the rewritten
        /// commits on standard input.
        fn run_with_input(&self, env: &[(&str, &str)], input: &str) -> (i32, String, bool) {
            self.run_with("rebase", env, input)
        }

        fn run_with(&self, arg: &str, env: &[(&str, &str)], input: &str) -> (i32, String, bool) {
            use std::io::Write as _;
            let _ = std::fs::remove_file(self.dir.path().join("migmerge-ran"));
            let mut out = std::process::Command::new("sh")
                .arg(format!(".git/hooks/{}", self.hook))
                .arg(arg)
                .current_dir(self.dir.path())
                .env_clear()
                .env(
                    "PATH",
                    format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display()),
                )
                .envs(env.iter().copied())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // A shim that reads no input may be gone before it is written.
            let _ = out.stdin.take().unwrap().write_all(input.as_bytes());
            let out = out.wait_with_output().unwrap();
            let ran = self.dir.path().join("migmerge-ran").exists();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.code().unwrap(), stderr, ran)
        }
    }

    #[test]
    fn the_pre_commit_shim_passes_migmerges_refusal_through() {
        let bench = Bench::new("pre-commit");
        bench.touch(".git/MERGE_HEAD");
        bench.migmerge_exits(1);
        assert_eq!(bench.run(&[]), (1, String::new(), true));
        // Off, migmerge does not run and the verdict is the earlier hook's.
        assert_eq!(bench.run(&[("MIGMERGE", "0")]), (0, String::new(), false));
        bench.chained_exits(3);
        assert_eq!(bench.run(&[]), (3, String::new(), false));
        bench.chained_exits(0);
        assert_eq!(bench.run(&[]).0, 1);
        // A migmerge that could not run (2) or crashed is no verdict: the commit goes ahead.
        for status in [2, 101] {
            bench.migmerge_exits(status);
            let (code, stderr, ran) = bench.run(&[]);
            assert_eq!((code, ran), (0, true), "{status}");
            assert!(stderr.contains(&format!("exit {status}")), "{stderr}");
        }
        bench.migmerge_exits(0);
        assert_eq!(bench.run(&[]), (0, String::new(), true));
    }

    #[test]
    fn the_pre_commit_shim_without_anything_to_do_is_silent_without_the_binary() {
        let bench = Bench::new("pre-commit");
        // An ordinary commit, from a tool whose PATH has no migmerge.
        assert_eq!(bench.run(&[]), (0, String::new(), false));
        // With a merge to conclude, the missing binary is worth a hint.
        bench.touch(".git/MERGE_HEAD");
        let (code, stderr, _) = bench.run(&[]);
        assert_eq!(code, 0);
        assert!(stderr.contains("migmerge: not on PATH"), "{stderr}");
    }

    /// (`post-merge` is left out: git ignores its status, and its shim hands over to migmerge
    /// with `exec`.)
    #[test]
    fn only_the_pre_commit_shim_may_fail_git() {
        let bench = Bench::new("post-rewrite");
        bench.migmerge_exits(1);
        let (code, _, ran) = bench.run_with_input(&[], "old new\n");
        assert_eq!((code, ran), (0, true));
    }

    /// An amended commit is the other rewrite git reports: the kept hook gets it, migmerge
    /// does not start, and no hint is printed without it on PATH.
    #[test]
    fn the_post_rewrite_shim_leaves_amends_to_the_kept_hook() {
        let bench = Bench::new("post-rewrite");
        bench.migmerge_exits(0);
        let seen = bench.dir.path().join("kept-saw");
        let kept = bench
            .dir
            .path()
            .join(format!(".git/hooks/post-rewrite{CHAINED_SUFFIX}"));
        Bench::executable(
            &kept,
            &format!(
                "#!/bin/sh\n{{ echo \"$1\"; cat; }} > '{}'\n",
                seen.display()
            ),
        );
        assert_eq!(
            bench.run_with("amend", &[], "old new\n"),
            (0, String::new(), false)
        );
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), "amend\nold new\n");
        assert_eq!(
            bench.run_with("rebase", &[], "old new\n"),
            (0, String::new(), true)
        );
        // Off, a rebase is the kept hook's alone too.
        assert_eq!(
            bench.run_with("rebase", &[("MIGMERGE", "0")], "x y\n"),
            (0, String::new(), false)
        );
        assert!(
            std::fs::read_to_string(&seen)
                .unwrap()
                .ends_with("rebase\nx y\n")
        );
        std::fs::remove_file(bench.dir.path().join("bin/migmerge")).unwrap();
        assert_eq!(
            bench.run_with("amend", &[], "old new\n"),
            (0, String::new(), false)
        );
    }

    /// pre-commit's script runs a legacy hook with no standard input: the post-rewrite shim
    /// then has no rewritten commits to tell the upstream by, and leaves the rebase alone.
    #[test]
    fn the_post_rewrite_shim_behind_pre_commit_does_nothing_without_its_input() {
        let bench = Bench::new("post-rewrite");
        bench.migmerge_exits(0);
        let legacy = [("PRE_COMMIT_RUNNING_LEGACY", "1")];
        let (code, stderr, ran) = bench.run_with_input(&legacy, "");
        assert_eq!((code, ran), (0, false));
        assert!(stderr.contains("no rewritten commits"), "{stderr}");
        assert_eq!(
            bench.run_with_input(&legacy, "old new\n"),
            (0, String::new(), true)
        );
    }
}
