//! Django's migration graph, built statically with Django's own rules.
//!
//! The order of steps follows `MigrationLoader.build_graph` (Django 6.1): every migration
//! becomes a node; same-app dependencies are added first (so `__first__` finds the app's real
//! root), then cross-app dependencies and `run_before`; then squashed migrations replace the
//! nodes they list, nested squashes first, with every edge to a replaced node moved to the
//! squash, even when the replaced file is gone from disk. Only then are dangling references
//! reported, because a squash may have absorbed them. With no database to consult, every
//! squash is usable, exactly as Django behaves for an empty database.
//!
//! Django 5.2 processes squashes in an arbitrary order and does not resolve a squash of a
//! squash; where the two differ, this module follows 6.1.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use hashbrown::{HashTable, hash_table};
use petgraph::Direction::{Incoming, Outgoing};
use petgraph::algo::TarjanScc;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences, NodeIndexable};

use crate::config::Config;
use crate::migration::{Entry, ListAttr, Reference};
use crate::problem::{Note, NoteKind, Problem, ProblemKind};
use crate::project::{MigrationFile, Project};

/// `(app_label, migration_name)`, Django's node key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Key {
    pub app: String,
    pub name: String,
}

impl Key {
    pub fn new(app: impl Into<String>, name: impl Into<String>) -> Self {
        Key {
            app: app.into(),
            name: name.into(),
        }
    }

    fn parts(&self) -> KeyRef<'_> {
        KeyRef {
            app: &self.app,
            name: &self.name,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.parts(), f)
    }
}

/// A [`Key`] borrowed from wherever its parts are written (a migration file, a reference in
/// one, the configuration), so that finding a node allocates nothing: building the graph of a
/// large project looks keys up hundreds of thousands of times and creates only the nodes'
/// own. It hashes, compares and displays as the `Key` it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KeyRef<'a> {
    app: &'a str,
    name: &'a str,
}

impl KeyRef<'_> {
    fn of(file: &MigrationFile) -> KeyRef<'_> {
        KeyRef {
            app: &file.app,
            name: &file.name,
        }
    }

    fn table_hash(self) -> u64 {
        BuildKeyHasher::default().hash_one(self)
    }

    fn to_key(self) -> Key {
        Key::new(self.app, self.name)
    }
}

impl std::fmt::Display for KeyRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// The hasher of the graph's key maps and sets: rustc's Fx hash, several times cheaper than the
/// standard SipHash on short strings such as app labels and migration names, which building and
/// walking the graph hash hundreds of thousands of times for a large project. SipHash guards
/// against keys chosen to collide; here the keys come from the checked tree itself, and the
/// worst such a tree could do is slow down its own check, never change its answer.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl KeyHasher {
    const SEED: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The bytes as a zero-padded little-endian word, assembled without the `memcpy`
            // call that copying a slice of unknown length compiles to.
            let word = rest
                .iter()
                .rev()
                .fold(0, |word, &byte| (word << 8) | u64::from(byte));
            self.add(word ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the best-mixed bits at the top; the table indexes by the low ones.
        self.0.rotate_left(26)
    }
}

pub type BuildKeyHasher = BuildHasherDefault<KeyHasher>;
/// A set of graph keys, as [`Graph::ancestors`] returns them.
pub type KeySet<'g> = HashSet<&'g Key, BuildKeyHasher>;
type KeyRefMap<'a, V> = HashMap<KeyRef<'a>, V, BuildKeyHasher>;

const FIRST: &str = "__first__";
const LATEST: &str = "__latest__";

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A migration file: its index in [`Project::migrations`].
    Migration(usize),
    /// A migration of an app that is not in the repository (e.g. `auth`): assumed to exist.
    External,
    /// A reference to a migration of an app in the repository that does not exist. Django calls
    /// these dummy nodes; any left once squashes are applied is an error.
    Missing { origin: usize, line: u32 },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub key: Key,
    pub kind: NodeKind,
}

/// The migration graph of one project snapshot.
#[derive(Debug, Clone)]
pub struct Graph {
    graph: StableDiGraph<Node, ()>,
    /// Every node by the hash of its key, which the node itself holds: a table of indices, not
    /// a map from keys, so that each key is allocated once and a node is found from borrowed
    /// parts ([`Graph::find`]).
    index: HashTable<NodeIndex>,
    /// Apps with a migrations package in the repository.
    local_apps: BTreeSet<String>,
    /// Apps whose leaves cannot be trusted: a reference to one of their migrations is missing,
    /// or their squashes replace each other in a loop. Django stops loading on both, and the
    /// leaves they leave behind are artifacts (a chain hanging from a missing parent looks like
    /// a second branch), so such apps are reported through their problems, not as conflicts.
    unsettled_apps: BTreeSet<String>,
    /// Per app, the leaves that a value left unknown could give a same-app child (see
    /// [`Builder::explain_leaves`]): never part of a conflict, and a note says why.
    doubtful_leaves: BTreeMap<String, BTreeSet<String>>,
    pub problems: Vec<Problem>,
    /// What could not be read statically: never a conflict or a problem by itself.
    pub notes: Vec<Note>,
}

/// An app with more than one leaf: what Django calls conflicting migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafConflict {
    pub app: String,
    /// Sorted by name.
    pub leaves: Vec<String>,
}

impl Graph {
    /// Builds the graph the way Django's loader does for an empty database.
    pub fn build(project: &Project) -> Graph {
        // Sized so that the graph is seldom copied as it grows: nearly every node is a migration
        // file, the few others are the external and missing ones references name, and most
        // migrations have one or two dependencies. Counting exactly would read every file once
        // more, which costs more than the room this leaves unused.
        let files = project.migrations.len();
        let nodes = files + files / 8;
        let edges = 2 * files;
        let mut builder = Builder {
            graph: Graph {
                graph: StableDiGraph::with_capacity(nodes, edges),
                index: HashTable::with_capacity(nodes),
                local_apps: project.apps.iter().map(|a| a.label.clone()).collect(),
                unsettled_apps: BTreeSet::new(),
                doubtful_leaves: BTreeMap::new(),
                problems: Vec::new(),
                notes: Vec::new(),
            },
            project,
            file_nodes: Vec::with_capacity(files),
            ends_cache: HashMap::default(),
            app_nodes: None,
            unknowns: BTreeMap::new(),
        };
        builder.add_nodes();
        let later = builder.add_internal_dependencies();
        builder.add_external_dependencies(&later.cross_app);
        builder.apply_squashes(&later.squashes);
        builder.report_missing();
        builder.report_cycles();
        builder.report_max_migration();
        builder.explain_leaves();
        builder.graph
    }

    /// The node of a key, if it is in the graph.
    pub fn node(&self, key: &Key) -> Option<&Node> {
        self.find(key.parts()).map(|ix| &self.graph[ix])
    }

    fn find(&self, key: KeyRef<'_>) -> Option<NodeIndex> {
        let graph = &self.graph;
        self.index
            .find(key.table_hash(), |&ix| graph[ix].key.parts() == key)
            .copied()
    }

    /// The node of `key`, or a new one of that kind when there is none.
    fn find_or_insert(&mut self, key: KeyRef<'_>, kind: NodeKind) -> NodeIndex {
        let graph = &self.graph;
        let entry = self.index.entry(
            key.table_hash(),
            |&ix| graph[ix].key.parts() == key,
            |&ix| graph[ix].key.parts().table_hash(),
        );
        match entry {
            hash_table::Entry::Occupied(found) => *found.get(),
            hash_table::Entry::Vacant(vacant) => {
                let ix = self.graph.add_node(Node {
                    key: key.to_key(),
                    kind,
                });
                vacant.insert(ix);
                ix
            }
        }
    }

    /// Removes a node and its edges.
    fn remove(&mut self, ix: NodeIndex) {
        let hash = self.graph[ix].key.parts().table_hash();
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == ix) {
            entry.remove();
        }
        self.graph.remove_node(ix);
    }

    /// Every migration file still in the graph (replaced migrations are not), sorted by key.
    pub fn migrations(&self) -> Vec<(&Key, usize)> {
        let mut out: Vec<(&Key, usize)> = self
            .graph
            .node_weights()
            .filter_map(|n| match n.kind {
                NodeKind::Migration(i) => Some((&n.key, i)),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }

    /// Every external node (migrations of apps outside the repository), sorted.
    pub fn externals(&self) -> Vec<&Key> {
        let mut out: Vec<&Key> = self
            .graph
            .node_weights()
            .filter(|n| n.kind == NodeKind::External)
            .map(|n| &n.key)
            .collect();
        out.sort();
        out
    }

    /// The direct parents (dependencies) of a key, sorted.
    pub fn parents(&self, key: &Key) -> Vec<&Key> {
        self.neighbours(key, Incoming)
    }

    /// The direct children (dependents) of a key, sorted.
    pub fn children(&self, key: &Key) -> Vec<&Key> {
        self.neighbours(key, Outgoing)
    }

    /// Django's plan of `starts` (`MigrationGraph._generate_plan` over `iterative_dfs`): from
    /// each start in turn, its ancestors through the parents `follow` accepts, parents before
    /// children, each key once. Django pushes a node's sorted parents onto its stack, so of two
    /// parents it plans the one named last first. An explicit stack: histories run thousands
    /// deep.
    pub fn plan<'g>(
        &'g self,
        starts: impl IntoIterator<Item = &'g Key>,
        follow: impl Fn(&Key) -> bool,
    ) -> Vec<&'g Key> {
        let mut done: HashSet<&Key> = HashSet::new();
        let mut order = Vec::new();
        for start in starts {
            // (key, parents pushed) pairs.
            let mut stack = vec![(start, false)];
            while let Some((key, expanded)) = stack.pop() {
                if done.contains(key) {
                    continue;
                }
                if expanded {
                    done.insert(key);
                    order.push(key);
                    continue;
                }
                stack.push((key, true));
                stack.extend(
                    self.parents(key)
                        .into_iter()
                        .filter(|p| follow(p) && !done.contains(p))
                        .map(|p| (p, false)),
                );
            }
        }
        order
    }

    fn neighbours(&self, key: &Key, direction: petgraph::Direction) -> Vec<&Key> {
        let Some(ix) = self.find(key.parts()) else {
            return Vec::new();
        };
        let mut out: Vec<&Key> = self
            .graph
            .neighbors_directed(ix, direction)
            .map(|n| &self.graph[n].key)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Leaf migrations per local app: migrations no migration of the same app depends on.
    pub fn leaves(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut leaves: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ix in self.graph.node_indices() {
            let node = &self.graph[ix];
            if !matches!(node.kind, NodeKind::Migration(_)) {
                continue;
            }
            let has_same_app_child = self
                .graph
                .neighbors_directed(ix, Outgoing)
                .any(|c| self.graph[c].key.app == node.key.app);
            if !has_same_app_child {
                leaves
                    .entry(&node.key.app)
                    .or_default()
                    .push(&node.key.name);
            }
        }
        for names in leaves.values_mut() {
            names.sort_unstable();
        }
        leaves
    }

    /// Apps with more than one leaf, by label. Leaves that something left unknown could
    /// join to the others do not count.
    pub fn conflicts(&self) -> Vec<LeafConflict> {
        self.leaves()
            .into_iter()
            .filter(|(app, _)| !self.unsettled_apps.contains(*app))
            .filter_map(|(app, leaves)| {
                let doubtful = self.doubtful_leaves.get(app);
                let leaves: Vec<String> = leaves
                    .into_iter()
                    .filter(|leaf| !doubtful.is_some_and(|d| d.contains(*leaf)))
                    .map(str::to_owned)
                    .collect();
                (leaves.len() > 1).then(|| LeafConflict {
                    app: app.to_owned(),
                    leaves,
                })
            })
            .collect()
    }

    /// Every node `key` depends on, directly or not, itself included.
    pub fn ancestors(&self, key: &Key) -> KeySet<'_> {
        self.reachable(key, Incoming)
    }

    /// Every node that depends on `key`, directly or not, itself included.
    pub fn descendants(&self, key: &Key) -> KeySet<'_> {
        self.reachable(key, Outgoing)
    }

    fn reachable(&self, key: &Key, direction: petgraph::Direction) -> KeySet<'_> {
        let mut seen = KeySet::default();
        let Some(start) = self.find(key.parts()) else {
            return seen;
        };
        let mut stack = vec![start];
        // Node indices are dense: a flag per node, not a second hash set.
        let mut visited = vec![false; self.graph.node_bound()];
        while let Some(ix) = stack.pop() {
            if std::mem::replace(&mut visited[ix.index()], true) {
                continue;
            }
            seen.insert(&self.graph[ix].key);
            stack.extend(self.graph.neighbors_directed(ix, direction));
        }
        seen
    }

    /// Whether `app` has a migrations package in the repository.
    pub fn is_local_app(&self, app: &str) -> bool {
        self.local_apps.contains(app)
    }
}

struct Builder<'p> {
    graph: Graph,
    project: &'p Project,
    /// The node of each file of [`Project::migrations`], by index: its own, or the first one's
    /// when two files have the same key.
    file_nodes: Vec<NodeIndex>,
    /// Root or leaf lookups for `__first__` / `__latest__`, per (app, want_root); cleared when
    /// a same-app edge is added.
    ends_cache: HashMap<(&'p str, bool), Option<NodeIndex>, BuildKeyHasher>,
    /// Each local app's nodes (migrations and missing placeholders), so that a `__first__` or
    /// `__latest__` lookup scans one app, not the whole graph. Gathered at the first such
    /// lookup, as many projects make none, and kept up to date from then on.
    app_nodes: Option<AppNodes>,
    /// Per app, its files holding something unknown in a list attribute, and in which.
    unknowns: BTreeMap<&'p str, Vec<(usize, UnknownIn)>>,
}

/// Which list attribute of a migration holds an unknown value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UnknownIn {
    Dependencies,
    RunBefore,
    Replaces,
}

impl UnknownIn {
    fn attr_name(self) -> &'static str {
        match self {
            UnknownIn::Dependencies => "dependencies",
            UnknownIn::RunBefore => "run_before",
            UnknownIn::Replaces => "replaces",
        }
    }
}

/// Node indices by app label.
struct AppNodes(HashMap<String, Vec<NodeIndex>, BuildKeyHasher>);

impl AppNodes {
    /// The nodes of the apps in the repository: every node but the external ones.
    fn gather(g: &StableDiGraph<Node, ()>) -> AppNodes {
        let mut app_nodes = AppNodes(HashMap::default());
        for ix in g.node_indices() {
            let node = &g[ix];
            if node.kind != NodeKind::External {
                app_nodes.add(&node.key.app, ix);
            }
        }
        app_nodes
    }

    fn add(&mut self, app: &str, ix: NodeIndex) {
        match self.0.get_mut(app) {
            Some(nodes) => nodes.push(ix),
            None => {
                self.0.insert(app.to_owned(), vec![ix]);
            }
        }
    }
}

/// The files, in order, that the passes after the same-app one have work in: reading every file
/// again costs more than that work on a large project, where most migrations depend only on
/// their own app and few squash.
#[derive(Default)]
struct LaterFiles {
    /// With a dependency on another app or a `run_before`.
    cross_app: Vec<usize>,
    /// With a `replaces`.
    squashes: Vec<usize>,
}

impl<'p> Builder<'p> {
    fn add_nodes(&mut self) {
        for (i, file) in self.project.migrations.iter().enumerate() {
            let key = KeyRef::of(file);
            let ix = self.graph.find_or_insert(key, NodeKind::Migration(i));
            self.file_nodes.push(ix);
        }
    }

    /// The node for `key`, created as a placeholder when absent: a missing migration for a
    /// local app, an external one otherwise.
    fn node_or_placeholder(&mut self, key: KeyRef<'p>, origin: usize, line: u32) -> NodeIndex {
        if let Some(ix) = self.graph.find(key) {
            return ix;
        }
        let local = self.graph.local_apps.contains(key.app);
        let kind = if local {
            NodeKind::Missing { origin, line }
        } else {
            NodeKind::External
        };
        let ix = self.graph.find_or_insert(key, kind);
        if local && let Some(app_nodes) = &mut self.app_nodes {
            app_nodes.add(key.app, ix);
        }
        ix
    }

    /// `same_app` says whether both ends are of one app, which the callers know from the keys
    /// they resolved, without reading the nodes'.
    fn add_edge(&mut self, parent: NodeIndex, child: NodeIndex, same_app: bool) {
        if same_app {
            self.ends_cache.clear();
        }
        // A dependency listed twice is one edge, as in Django's graph.
        let g = &mut self.graph.graph;
        if !has_edge(g, parent, child) {
            g.add_edge(parent, child, ());
        }
    }

    /// Notes what a list attribute holds that cannot be known without running the code: the
    /// value itself, or entries of it, or a swappable setting nothing configures. Unknown
    /// values (not swappable settings, which only ever name another app's first migration or
    /// nothing within the app) make the app's leaves uncertain.
    fn note_unknown_references(&mut self, origin: usize, which: UnknownIn, attr: &'p ListAttr) {
        let file = &self.project.migrations[origin];
        let attr_name = which.attr_name();
        let mut uncertain = false;
        let mut notes = Vec::new();
        if let ListAttr::Unknown { line, text } = attr {
            uncertain = true;
            notes.push((
                *line,
                format!(
                    "`{attr_name}` of {}.{} is `{}`, which cannot be read without running the code",
                    file.app,
                    file.name,
                    shorten(text)
                ),
            ));
        }
        for Entry {
            reference, line, ..
        } in attr.entries()
        {
            let message = match reference {
                // A literal pair always names a key.
                Reference::Literal { .. } => continue,
                // Set nowhere migmerge reads: the project model notes it once per setting (the
                // app it points to is unknown), and an unknown never fails a check.
                Reference::Swappable { .. } => continue,
                Reference::Unknown { text } => {
                    uncertain = true;
                    format!(
                        "`{attr_name}` of {}.{} holds `{}`, which cannot be read without running the code",
                        file.app,
                        file.name,
                        shorten(text)
                    )
                }
            };
            notes.push((*line, message));
        }
        for (line, message) in notes {
            self.graph.notes.push(
                Note::new(NoteKind::Unknown, message)
                    .for_app(&file.app)
                    .at(&file.path, Some(line)),
            );
        }
        if uncertain {
            self.unknowns
                .entry(file.app.as_str())
                .or_default()
                .push((origin, which));
        }
    }

    /// Leaves of apps with several where what was left unknown could be what joins them: an
    /// unknown `dependencies` entry of migration M may make any leaf M does not come before a
    /// parent of M; an unknown `run_before` of a leaf may give it a child; an unknown
    /// `replaces` may replace any of them. Such leaves are doubtful: left out of the app's
    /// conflict (a false alarm costs more than a miss), so that the app conflicts only when
    /// two leaves are beyond the reach of every unknown, and a note says so.
    fn explain_leaves(&mut self) {
        if self.unknowns.is_empty() {
            return;
        }
        let leaves = self.graph.leaves();
        let mut doubtful_leaves = Vec::new();
        for (app, files) in &self.unknowns {
            let Some(app_leaves) = leaves.get(app).filter(|l| l.len() > 1) else {
                continue;
            };
            let mut doubtful = BTreeSet::new();
            let mut cause = files[0];
            for &leaf in app_leaves {
                let ancestors = self.graph.ancestors(&Key::new(*app, leaf));
                let reaching = files.iter().find(|&&(origin, which)| {
                    let file = &self.project.migrations[origin];
                    match which {
                        UnknownIn::Replaces => true,
                        UnknownIn::RunBefore => file.name == leaf,
                        // A replaced file's edges went to its squash: it may reach anything.
                        UnknownIn::Dependencies => match self.graph.find(KeyRef::of(file)) {
                            None => true,
                            Some(_) => {
                                file.name != leaf
                                    && !ancestors.contains(&Key::new(*app, &file.name))
                            }
                        },
                    }
                });
                if let Some(&found) = reaching {
                    cause = found;
                    doubtful.insert(leaf.to_owned());
                }
            }
            if doubtful.is_empty() {
                continue;
            }
            let (origin, which) = cause;
            let file = &self.project.migrations[origin];
            let left = app_leaves.len() - doubtful.len();
            let named: Vec<&str> = doubtful.iter().map(String::as_str).collect();
            let message = if left <= 1 {
                format!(
                    "{app} has {} leaves ({}), but the `{}` of {}.{} cannot be read and may be what joins them, so this is not reported as a conflict",
                    app_leaves.len(),
                    app_leaves.join(", "),
                    which.attr_name(),
                    file.app,
                    file.name
                )
            } else {
                format!(
                    "{} of {app} may not be a leaf: the `{}` of {}.{} cannot be read and may depend on it, so the conflict is reported between the other leaves",
                    named.join(", "),
                    which.attr_name(),
                    file.app,
                    file.name
                )
            };
            let note = Note::new(NoteKind::Unknown, message)
                .for_app(*app)
                .at(&file.path, unknown_line(&file.migration, which));
            doubtful_leaves.push(((*app).to_owned(), doubtful, note));
        }
        for (app, doubtful, note) in doubtful_leaves {
            self.graph.doubtful_leaves.insert(app, doubtful);
            self.graph.notes.push(note);
        }
    }

    /// Same-app dependencies, `__first__` excepted (Django ignores it within an app). Notes
    /// which files the later passes have work in.
    fn add_internal_dependencies(&mut self) -> LaterFiles {
        let project = self.project;
        let mut later = LaterFiles::default();
        for (origin, file) in project.migrations.iter().enumerate() {
            let me = self.file_nodes[origin];
            let migration = &file.migration;
            self.note_unknown_references(origin, UnknownIn::Dependencies, &migration.dependencies);
            let mut cross_app = !matches!(migration.run_before, ListAttr::Absent);
            for (parent, line) in references(&project.config, &migration.dependencies) {
                if parent.app != file.app {
                    cross_app = true;
                } else if parent.name != FIRST {
                    let parent = self.node_or_placeholder(parent, origin, line);
                    self.add_edge(parent, me, true);
                }
            }
            if cross_app {
                later.cross_app.push(origin);
            }
            if !matches!(migration.replaces, ListAttr::Absent) {
                later.squashes.push(origin);
            }
        }
        later
    }

    /// Cross-app dependencies and `run_before`, with `__first__` / `__latest__` resolved
    /// against the graph as it stands, as Django's `check_key` does.
    fn add_external_dependencies(&mut self, files: &[usize]) {
        let project = self.project;
        for &origin in files {
            let file = &project.migrations[origin];
            let me = self.file_nodes[origin];
            // The internal pass reported the dependencies that are not literal.
            for (parent, line) in references(&project.config, &file.migration.dependencies) {
                if parent.app == file.app {
                    continue;
                }
                if let Some(parent) = self.check_key(parent, &file.app, origin, line) {
                    self.add_edge(parent, me, false);
                }
            }
            let run_before = &file.migration.run_before;
            self.note_unknown_references(origin, UnknownIn::RunBefore, run_before);
            for (child, line) in references(&project.config, run_before) {
                if let Some(found) = self.check_key(child, &file.app, origin, line) {
                    self.add_edge(me, found, child.app == file.app);
                }
            }
        }
    }

    /// The node a reference from `current_app` resolves to (a placeholder for a key not in the
    /// graph), or `None` for a `__first__` / `__latest__` that resolves to nothing. The node is
    /// always of the reference's app.
    fn check_key(
        &mut self,
        key: KeyRef<'p>,
        current_app: &str,
        origin: usize,
        line: u32,
    ) -> Option<NodeIndex> {
        let special = key.name == FIRST || key.name == LATEST;
        if !special {
            return Some(self.node_or_placeholder(key, origin, line));
        }
        if let Some(ix) = self.graph.find(key) {
            return Some(ix);
        }
        if key.app == current_app {
            return None;
        }
        if !self.graph.local_apps.contains(key.app) {
            // An app outside the repository: Django would resolve it against the installed
            // package; here it stays a named external node.
            return Some(self.node_or_placeholder(key, origin, line));
        }
        // An app with a migrations package but no migration resolves to nothing, as with
        // `ignore_no_migrations`.
        self.app_end(key.app, key.name == FIRST)
    }

    /// The alphabetically first root (or leaf) of an app, counting missing placeholders as
    /// Django counts its dummy nodes.
    fn app_end(&mut self, app: &'p str, root: bool) -> Option<NodeIndex> {
        if let Some(&found) = self.ends_cache.get(&(app, root)) {
            return found;
        }
        let g = &self.graph.graph;
        let app_nodes = self.app_nodes.get_or_insert_with(|| AppNodes::gather(g));
        let direction = if root { Incoming } else { Outgoing };
        let found = app_nodes
            .0
            .get(app)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&ix| {
                g.neighbors_directed(ix, direction)
                    .all(|n| g[n].key.app != app)
            })
            .min_by(|&a, &b| g[a].key.cmp(&g[b].key));
        self.ends_cache.insert((app, root), found);
        found
    }

    /// Squashed migrations replace the nodes they list, inner squashes first.
    fn apply_squashes(&mut self, files: &[usize]) {
        let mut replacements: Vec<(KeyRef<'p>, usize)> = Vec::new();
        let mut replaces_of: KeyRefMap<'p, Vec<KeyRef<'p>>> = KeyRefMap::default();
        let project = self.project;
        for &origin in files {
            let file = &project.migrations[origin];
            let replaces = &file.migration.replaces;
            self.note_unknown_references(origin, UnknownIn::Replaces, replaces);
            let replaced: Vec<KeyRef<'p>> = references(&project.config, replaces)
                .map(|(key, _)| key)
                .collect();
            let key = KeyRef::of(file);
            if !replaced.is_empty() && !replaces_of.contains_key(&key) {
                replacements.push((key, origin));
                replaces_of.insert(key, replaced);
            }
        }

        // Depth-first over `replaces`, without recursion so no input can overflow the stack.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Progress {
            Started,
            Done,
        }
        let mut progress: KeyRefMap<'p, Progress> = KeyRefMap::default();
        for &(top, top_origin) in &replacements {
            if progress.contains_key(&top) {
                continue;
            }
            let mut stack: Vec<(KeyRef<'p>, usize)> = vec![(top, 0)];
            progress.insert(top, Progress::Started);
            while let Some((key, next_child)) = stack.pop() {
                let replaced = &replaces_of[&key];
                if let Some(&child) = replaced.get(next_child) {
                    stack.push((key, next_child + 1));
                    if replaces_of.contains_key(&child) {
                        match progress.get(&child) {
                            Some(Progress::Done) => {}
                            Some(Progress::Started) => {
                                let file = &self.project.migrations[top_origin];
                                self.graph.unsettled_apps.insert(child.app.to_owned());
                                self.graph.problems.push(
                                    Problem::new(
                                        ProblemKind::SquashCycle,
                                        format!(
                                            "squashed migrations replace each other in a loop, starting at {child}"
                                        ),
                                    )
                                    .at(&file.path, None),
                                );
                                return;
                            }
                            None => {
                                progress.insert(child, Progress::Started);
                                stack.push((child, 0));
                            }
                        }
                    }
                } else {
                    self.remove_replaced_nodes(key, replaced);
                    progress.insert(key, Progress::Done);
                }
            }
        }
    }

    /// Removes each replaced node that exists and moves its edges to the replacement.
    fn remove_replaced_nodes(&mut self, replacement: KeyRef<'_>, replaced: &[KeyRef<'_>]) {
        let Some(rep) = self.graph.find(replacement) else {
            return;
        };
        let replaced: HashSet<KeyRef<'_>, BuildKeyHasher> = replaced.iter().copied().collect();
        for &key in &replaced {
            let Some(ix) = self.graph.find(key) else {
                continue;
            };
            // A node may depend on itself: a squash whose replaced migration depended on it
            // inherited that edge as a loop. The loop goes with the node, as in Django, where
            // the node's key is among the replaced ones.
            let g = &self.graph.graph;
            let others = |&n: &NodeIndex| n != ix;
            let children: Vec<NodeIndex> =
                g.neighbors_directed(ix, Outgoing).filter(others).collect();
            let parents: Vec<NodeIndex> =
                g.neighbors_directed(ix, Incoming).filter(others).collect();
            self.graph.remove(ix);
            let g = &mut self.graph.graph;
            for child in children {
                if !replaced.contains(&g[child].key.parts()) && !has_edge(g, rep, child) {
                    g.add_edge(rep, child, ());
                }
            }
            for parent in parents {
                if !replaced.contains(&g[parent].key.parts()) && !has_edge(g, parent, rep) {
                    g.add_edge(parent, rep, ());
                }
            }
        }
    }

    fn report_missing(&mut self) {
        let g = &self.graph.graph;
        let mut missing: Vec<(usize, u32, &Key)> = g
            .node_weights()
            .filter_map(|n| match n.kind {
                NodeKind::Missing { origin, line } => Some((origin, line, &n.key)),
                _ => None,
            })
            .collect();
        missing.sort();
        for (origin, line, key) in missing {
            self.graph.unsettled_apps.insert(key.app.clone());
            let file = &self.project.migrations[origin];
            self.graph.problems.push(
                Problem::new(
                    ProblemKind::Dangling,
                    format!(
                        "{}.{} refers to {key}, which does not exist",
                        file.app, file.name
                    ),
                )
                .at(&file.path, Some(line)),
            );
        }
    }

    fn report_cycles(&mut self) {
        let g = &self.graph.graph;
        if is_acyclic(g) {
            return;
        }
        // A callback per component, not `tarjan_scc`'s list of them: nearly every node is a
        // component of its own, and that list would allocate one vector per node.
        let mut cycles: Vec<Vec<&Key>> = Vec::new();
        TarjanScc::new().run(g, |scc| {
            if scc.len() > 1 || g.contains_edge(scc[0], scc[0]) {
                let mut keys: Vec<&Key> = scc.iter().map(|&ix| &g[ix].key).collect();
                keys.sort();
                cycles.push(keys);
            }
        });
        cycles.sort();
        let problems: Vec<Problem> = cycles
            .into_iter()
            .map(|keys| {
                let path = keys.iter().find_map(|k| match self.graph.node(k)?.kind {
                    NodeKind::Migration(i) => Some(self.project.migrations[i].path.clone()),
                    _ => None,
                });
                let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                let problem = Problem::new(
                    ProblemKind::Cycle,
                    format!(
                        "migrations depend on each other in a loop: {}",
                        names.join(", ")
                    ),
                );
                match path {
                    Some(path) => problem.at(path, None),
                    None => problem,
                }
            })
            .collect();
        self.graph.problems.extend(problems);
    }

    fn report_max_migration(&mut self) {
        // Finding the leaves reads the whole graph: not for a project without the files.
        if self
            .project
            .apps
            .iter()
            .all(|app| app.max_migration.is_none())
        {
            return;
        }
        let leaves = self.graph.leaves();
        let mut problems = Vec::new();
        for app in &self.project.apps {
            let Some(max) = &app.max_migration else {
                continue;
            };
            let app_leaves = leaves.get(app.label.as_str()).cloned().unwrap_or_default();
            if app_leaves.iter().any(|leaf| *leaf == max.name) {
                continue;
            }
            let expected = match app_leaves.as_slice() {
                [] => "the app has no migration".to_owned(),
                [one] => format!("the leaf is {one}"),
                many => format!("the leaves are {}", many.join(", ")),
            };
            problems.push(
                Problem::new(
                    ProblemKind::MaxMigration,
                    format!("max_migration.txt names {:?} but {expected}", max.name),
                )
                .at(&max.path, Some(1)),
            );
        }
        self.graph.problems.extend(problems);
    }
}

/// Whether the graph has no cycle, by Kahn's algorithm: taking away nodes without parents, one
/// at a time, takes away every node exactly when there is no cycle. It reads the graph once,
/// iteratively, where finding the cycles themselves (strongly connected components) costs
/// several times more, and only a graph with a cycle needs that.
fn is_acyclic(g: &StableDiGraph<Node, ()>) -> bool {
    let mut parents = vec![0u32; g.node_bound()];
    for edge in g.edge_references() {
        parents[edge.target().index()] += 1;
    }
    let mut ready: Vec<NodeIndex> = g
        .node_indices()
        .filter(|ix| parents[ix.index()] == 0)
        .collect();
    let mut taken = 0;
    while let Some(ix) = ready.pop() {
        taken += 1;
        for child in g.neighbors_directed(ix, Outgoing) {
            let left = &mut parents[child.index()];
            *left -= 1;
            if *left == 0 {
                ready.push(child);
            }
        }
    }
    taken == g.node_count()
}

/// Whether `parent → child` is an edge. The edge would be in both the parent's outgoing and the
/// child's incoming list, so the two are walked in step and the shorter one decides: a node
/// many migrations depend on (`auth.__first__` through a swappable dependency) has thousands of
/// children, and `update_edge` would walk them all for each new one.
fn has_edge(g: &StableDiGraph<Node, ()>, parent: NodeIndex, child: NodeIndex) -> bool {
    let mut outgoing = g.edges_directed(parent, Outgoing);
    let mut incoming = g.edges_directed(child, Incoming);
    loop {
        match (outgoing.next(), incoming.next()) {
            (Some(out), Some(inc)) => {
                if out.target() == child || inc.source() == parent {
                    return true;
                }
            }
            // One list is exhausted without the edge: it is in neither.
            _ => return false,
        }
    }
}

/// The literal keys of a list attribute with their lines; what cannot be known statically is
/// skipped (see [`Builder::note_unknown_references`]).
fn references<'p>(
    config: &'p Config,
    attr: &'p ListAttr,
) -> impl Iterator<Item = (KeyRef<'p>, u32)> {
    attr.entries()
        .iter()
        .filter_map(|entry| Some((reference_key(config, &entry.reference)?, entry.line)))
}

/// The node a reference names: a literal pair as written; a swappable dependency, like
/// Django's `swappable_dependency`, the first migration of the configured model's app. `None`
/// for what cannot be known statically.
fn reference_key<'p>(config: &'p Config, reference: &'p Reference) -> Option<KeyRef<'p>> {
    match reference {
        Reference::Literal { app, name } => Some(KeyRef {
            app: &app.value,
            name: &name.value,
        }),
        Reference::Swappable { setting, default } => {
            let model = config.swappable_model(setting).or(default.as_deref())?;
            let app = model.split_once('.').map_or(model, |(a, _)| a);
            Some(KeyRef { app, name: FIRST })
        }
        Reference::Unknown { .. } => None,
    }
}

/// The line of the first unknown part of a migration's list attribute.
fn unknown_line(migration: &crate::migration::Migration, which: UnknownIn) -> Option<u32> {
    let attr = match which {
        UnknownIn::Dependencies => &migration.dependencies,
        UnknownIn::RunBefore => &migration.run_before,
        UnknownIn::Replaces => &migration.replaces,
    };
    attr.unknowns().first().map(|&(_, line)| line)
}

/// Source text as a note quotes it: one line, at most 60 characters.
fn shorten(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 60 {
        return flat;
    }
    let cut: String = flat.chars().take(57).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::Tree;

    fn migration(replaces: &str, dependencies: &str) -> String {
        format!(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n    replaces = {replaces}\n\n    dependencies = {dependencies}\n\n    operations = []\n"
        )
    }

    /// A squash that a migration it replaces depends on inherits that edge as a loop; a squash
    /// of that squash drops the loop with it, as Django does.
    #[test]
    fn squash_of_a_squash_that_depends_on_itself() {
        let tree = Tree::new(&[
            ("a/migrations/0001_initial.py", &migration("[]", "[]")),
            (
                "a/migrations/0002_squashed.py",
                &migration(r#"[("a", "0001_initial"), ("a", "0003_late")]"#, "[]"),
            ),
            (
                "a/migrations/0003_late.py",
                &migration("[]", r#"[("a", "0002_squashed")]"#),
            ),
            (
                "a/migrations/0004_outer.py",
                &migration(r#"[("a", "0002_squashed")]"#, "[]"),
            ),
        ]);
        let graph = Graph::build(&tree.project());
        let left: Vec<String> = graph
            .migrations()
            .iter()
            .map(|(key, _)| key.to_string())
            .collect();
        assert_eq!(left, ["a.0004_outer"]);
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
    }

    /// The conflicts, every note (the project model's and the graph's) and the graph.
    fn leaves_and_notes(files: &[(&str, &str)]) -> (Vec<LeafConflict>, Vec<String>, Graph) {
        let project = Tree::new(files).project();
        let graph = Graph::build(&project);
        let notes = project
            .notes
            .iter()
            .chain(&graph.notes)
            .map(|n| n.message.clone())
            .collect();
        (graph.conflicts(), notes, graph)
    }

    /// An unknown `run_before` can give only its own migration a child; an unknown `replaces`
    /// can remove any leaf; neither is a problem.
    #[test]
    fn unknown_run_before_and_replaces_make_leaves_doubtful() {
        let initial = migration("[]", "[]");
        let child = migration("[]", r#"[("a", "0001_initial")]"#);
        let with_run_before = format!("{child}    run_before = helper()\n");
        let (conflicts, notes, graph) = leaves_and_notes(&[
            ("a/migrations/0001_initial.py", &initial),
            ("a/migrations/0002_x.py", &with_run_before),
            ("a/migrations/0002_y.py", &child),
        ]);
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert!(
            notes.iter().any(|n| n.contains("may be what joins them")),
            "{notes:?}"
        );
        // With a third leaf beyond its reach, the other two still conflict.
        let (conflicts, notes, _) = leaves_and_notes(&[
            ("a/migrations/0001_initial.py", &initial),
            ("a/migrations/0002_x.py", &with_run_before),
            ("a/migrations/0002_y.py", &child),
            ("a/migrations/0002_z.py", &child),
        ]);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].leaves, ["0002_y", "0002_z"]);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("0002_x of a may not be a leaf")),
            "{notes:?}"
        );
        let replaced = migration("helper()", r#"[("a", "0001_initial")]"#);
        let (conflicts, _, _) = leaves_and_notes(&[
            ("a/migrations/0001_initial.py", &initial),
            ("a/migrations/0002_x.py", &replaced),
            ("a/migrations/0002_y.py", &child),
            ("a/migrations/0002_z.py", &child),
        ]);
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }

    /// An unknown dependency cannot join leaves it comes before, nor reach into another app.
    #[test]
    fn unknown_dependencies_join_only_what_they_could_reach() {
        let initial = migration("[]", "[]");
        let unknown = migration("[]", "helper()");
        let child = |parent: &str| migration("[]", &format!(r#"[("a", "{parent}")]"#));
        let (conflicts, _, _) = leaves_and_notes(&[
            ("a/migrations/0001_initial.py", &initial),
            ("a/migrations/0002_read_by_helper.py", &unknown),
            ("a/migrations/0003_x.py", &child("0002_read_by_helper")),
            ("a/migrations/0003_y.py", &child("0002_read_by_helper")),
            ("b/migrations/0001_initial.py", &unknown),
        ]);
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        // 0001_initial only looks like a leaf: the unknown entry may depend on it.
        assert_eq!(conflicts[0].leaves, ["0003_x", "0003_y"]);
    }

    /// django-swapper's dependency names `app.Model` unless its setting is configured; a
    /// swappable setting nothing configures is a note, never a problem.
    #[test]
    fn swapper_dependencies_default_to_their_model() {
        let swapped = migration("[]", r#"[swapper.dependency("b", "Thing")]"#);
        let (_, notes, graph) = leaves_and_notes(&[
            ("a/migrations/0001_initial.py", &swapped),
            ("b/migrations/0001_initial.py", &migration("[]", "[]")),
        ]);
        assert_eq!(
            graph.parents(&Key::new("a", "0001_initial")),
            [&Key::new("b", "0001_initial")]
        );
        assert!(notes.is_empty(), "{notes:?}");
        let unset = migration(
            "[]",
            "[migrations.swappable_dependency(settings.THING_MODEL)]",
        );
        let (conflicts, notes, graph) =
            leaves_and_notes(&[("a/migrations/0001_initial.py", &unset)]);
        assert!(conflicts.is_empty() && graph.problems.is_empty());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("THING_MODEL"), "{notes:?}");
    }

    /// The last bytes of a string hash as the zero-padded word they always have, so that
    /// hash-ordered sets keep their order.
    #[test]
    fn hasher_tail_is_the_zero_padded_word() {
        for len in 1..8 {
            let bytes: Vec<u8> = (1..=len).map(|b: u8| b.wrapping_mul(37)).collect();
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(&bytes);
            let mut expected = KeyHasher::default();
            expected.add(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 59));
            let mut hasher = KeyHasher::default();
            hasher.write(&bytes);
            assert_eq!(hasher.finish(), expected.finish(), "{len} bytes");
        }
    }
}
