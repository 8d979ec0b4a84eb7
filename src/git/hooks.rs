//! The hook shims migmerge installs, kept as files in the top-level `hooks/` directory so that
//! they can be read, reviewed and copied by hand.

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
    content
        .split(|&b| b == b'\n')
        .take(3)
        .any(|line| line.starts_with(SHIM_MARKER.as_bytes()))
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
            self.run_with_input(env, "")
        }

        fn run_with_input(&self, env: &[(&str, &str)], input: &str) -> (i32, String, bool) {
            use std::io::Write as _;
            let _ = std::fs::remove_file(self.dir.path().join("migmerge-ran"));
            let mut out = std::process::Command::new("sh")
                .arg(format!(".git/hooks/{}", self.hook))
                .arg("message-file")
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
