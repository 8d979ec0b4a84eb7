//! The models of one app as its earlier migrations leave them: replaying `CreateModel`,
//! `AddField`, `AlterField`, `RenameField`, `RemoveField`, `RenameModel`, `DeleteModel` and
//! `AlterModelTable` in Django's order, so that a rule can ask whether a table already existed
//! and what a field looked like before an operation changes it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use compact_str::CompactString;

use rayon::prelude::*;

use crate::graph::{Graph, Key, NodeKind};
use crate::migration::{FieldDef, Operation};
use crate::project::Project;

/// A model or field name as the state keys it: lower-cased, as Django compares them. Kept
/// inline when short, as nearly every name is: a rule that copies the state to look one
/// operation ahead copies its keys without allocating.
pub type Name = CompactString;

/// `name` lower-cased, as a [`Name`]. Names are nearly always ASCII, whose lower case is a
/// byte-wise change of the copy; Unicode's rules (which Python's `str.lower` follows too) are
/// for the others.
fn lower(name: &str) -> Name {
    if name.is_ascii() {
        let mut lowered = CompactString::from(name);
        lowered.make_ascii_lowercase();
        lowered
    } else {
        CompactString::from_str_to_lowercase(name)
    }
}

/// One model as the replayed migrations define it. Field definitions are borrowed from the
/// operations that made them: a replay over thousands of migrations copies none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelState<'a> {
    /// By lower-cased field name.
    pub fields: BTreeMap<Name, &'a FieldDef>,
    /// The model names its table (`db_table`), so a rename of the model keeps the table.
    pub db_table: bool,
}

/// The models of one app, by lower-cased model name. Each model is shared until changed, so
/// a copy of the whole state (a rule looking one operation ahead) costs a pointer per model,
/// and a change copies only the model it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppState<'a> {
    pub models: BTreeMap<Name, Arc<ModelState<'a>>>,
}

impl<'a> AppState<'a> {
    pub fn model(&self, name: &str) -> Option<&ModelState<'a>> {
        self.models.get(&lower(name)).map(Arc::as_ref)
    }

    /// The field `field` of `model`, as last defined.
    pub fn field(&self, model: &str, field: &str) -> Option<&'a FieldDef> {
        self.model(model)?.fields.get(&lower(field)).copied()
    }

    fn model_mut(&mut self, name: &str) -> Option<&mut ModelState<'a>> {
        self.models.get_mut(name).map(Arc::make_mut)
    }

    /// Applies every operation of a migration, in order.
    pub fn apply_all(&mut self, operations: &'a [Operation]) {
        for op in operations {
            self.apply(op);
        }
    }

    /// Applies one operation to the models it changes. Operations whose arguments are not
    /// literals change nothing they cannot name.
    pub fn apply(&mut self, op: &'a Operation) {
        let model = op.model.as_deref().map(lower);
        let field = op.field.as_deref().map(lower);
        match (op.class.as_str(), model) {
            ("CreateModel", Some(model)) => {
                let fields = op.fields.iter().map(|f| (lower(&f.name), f)).collect();
                let db_table = op
                    .argument(2, "options")
                    .is_some_and(|options| options.contains("db_table"));
                self.models
                    .insert(model, Arc::new(ModelState { fields, db_table }));
            }
            ("DeleteModel", Some(model)) => {
                self.models.remove(&model);
            }
            ("RenameModel", _) => {
                if let (Some(old), Some(new)) = (&op.old_name, &op.new_name)
                    && let Some(state) = self.models.remove(&lower(old))
                {
                    self.models.insert(lower(new), state);
                }
            }
            ("AlterModelTable", Some(model)) => {
                if let Some(state) = self.model_mut(&model) {
                    state.db_table = op.argument(1, "table").is_some_and(|t| t != "None");
                }
            }
            ("AddField" | "AlterField", Some(model)) => {
                if let (Some(field), Some(def)) = (field, op.fields.first())
                    && let Some(state) = self.model_mut(&model)
                {
                    state.fields.insert(field, def);
                }
            }
            ("RemoveField", Some(model)) => {
                if let (Some(field), Some(state)) = (field, self.model_mut(&model)) {
                    state.fields.remove(&field);
                }
            }
            ("RenameField", Some(model)) => {
                if let (Some(old), Some(new), Some(state)) =
                    (&op.old_name, &op.new_name, self.model_mut(&model))
                    && let Some(def) = state.fields.remove(&lower(old))
                {
                    // The definition keeps its old `name`; the state knows it by the new one,
                    // and the rules read only its class and arguments.
                    state.fields.insert(lower(new), def);
                }
            }
            // The state and database halves usually say the same thing; replaying both keeps
            // what either defines.
            ("SeparateDatabaseAndState", _) => self.apply_all(&op.inner),
            _ => {}
        }
    }
}

/// Walks an app's migrations in Django's order and hands each wanted one the state its
/// app's earlier migrations (its ancestors) leave.
pub struct Replay<'a> {
    graph: &'a Graph,
    project: &'a Project,
}

/// What the replay of one app walks: its migrations in Django's order up to the last wanted
/// one (nothing after it can change what a wanted migration sees).
struct AppWalk<'g> {
    app: &'g str,
    order: Vec<&'g Key>,
    wanted: HashSet<usize>,
}

/// An app's wanted files, and all its migrations in key order.
type AppFiles<'g> = (HashSet<usize>, Vec<&'g Key>);

/// What a replay of some wanted migrations walks, worked out once from the graph alone: the
/// files whose operations must be read first ([`Plan::needed`]) and the order
/// [`Replay::map`] visits them in.
pub struct Plan<'g> {
    walks: Vec<AppWalk<'g>>,
}

impl<'g> Plan<'g> {
    /// The walks of the apps with a file in `wanted` (indices into the project's migrations),
    /// each up to its last wanted migration in Django's order; apps without one are not
    /// replayed at all. Each app's order is worked out on its own, on every core.
    pub fn new(graph: &'g Graph, wanted: &[usize]) -> Self {
        let wanted: HashSet<usize> = wanted.iter().copied().collect();
        let mut by_app: BTreeMap<&'g str, AppFiles<'g>> = BTreeMap::new();
        let all = graph.migrations();
        for &(key, i) in &all {
            if wanted.contains(&i) {
                by_app.entry(key.app.as_str()).or_default().0.insert(i);
            }
        }
        for &(key, _) in &all {
            if let Some((_, keys)) = by_app.get_mut(key.app.as_str()) {
                keys.push(key);
            }
        }
        let apps: Vec<(&'g str, AppFiles<'g>)> = by_app.into_iter().collect();
        let walks = apps
            .into_par_iter()
            .map(|(app, (wanted, keys))| {
                let mut order = app_order(graph, app, keys);
                let last = order
                    .iter()
                    .rposition(|key| file_of(graph, key).is_some_and(|i| wanted.contains(&i)));
                order.truncate(last.map_or(0, |at| at + 1));
                AppWalk { app, order, wanted }
            })
            .collect();
        Plan { walks }
    }

    /// The migration files whose operations [`Replay::map`] reads for this plan.
    pub fn needed(&self, graph: &Graph) -> Vec<usize> {
        self.walks
            .iter()
            .flat_map(|walk| walk.order.iter().filter_map(|key| file_of(graph, key)))
            .collect()
    }
}

impl<'a> Replay<'a> {
    pub fn new(graph: &'a Graph, project: &'a Project) -> Self {
        Replay { graph, project }
    }

    /// Calls `visit(index, state_before)` for each wanted migration file of `plan` and
    /// returns the answers, apps in name order, each app's migrations in Django's order. Apps
    /// are replayed in parallel. The files [`Plan::needed`] names must have their operations
    /// read.
    pub fn map<T: Send>(
        &self,
        plan: &Plan<'_>,
        visit: impl Fn(usize, &AppState<'a>) -> T + Sync,
    ) -> Vec<T> {
        let per_app: Vec<Vec<T>> = plan
            .walks
            .par_iter()
            .map(|walk| self.replay(walk, &visit))
            .collect();
        per_app.into_iter().flatten().collect()
    }

    fn replay<T>(&self, walk: &AppWalk<'_>, visit: &impl Fn(usize, &AppState<'a>) -> T) -> Vec<T> {
        let mut answers = Vec::with_capacity(walk.wanted.len());
        let mut state = AppState::default();
        let mut last: Option<&Key> = None;
        for key in &walk.order {
            let Some(i) = self.file_of(key) else { continue };
            let parents: Vec<&Key> = self
                .graph
                .parents(key)
                .into_iter()
                .filter(|p| p.app == walk.app)
                .collect();
            // A linear history keeps one running state; after a branch point or at a merge
            // the state is rebuilt from the ancestors alone, so that a sibling branch's
            // operations never leak into it.
            let continues = match (last, parents.as_slice()) {
                (None, []) => true,
                (Some(last), [parent]) => *parent == last,
                _ => false,
            };
            if !continues {
                state = self.state_before(key, &walk.order);
            }
            if walk.wanted.contains(&i) {
                answers.push(visit(i, &state));
            }
            state.apply_all(self.operations(i));
            last = Some(key);
        }
        answers
    }

    /// The same-app ancestors of `key` (itself excluded), replayed in `order`.
    fn state_before(&self, key: &Key, order: &[&Key]) -> AppState<'a> {
        let ancestors = self.graph.ancestors(key);
        let mut state = AppState::default();
        for other in order {
            if *other == key || !ancestors.contains(other) {
                continue;
            }
            if let Some(i) = self.file_of(other) {
                state.apply_all(self.operations(i));
            }
        }
        state
    }

    fn operations(&self, i: usize) -> &'a [Operation] {
        self.project.migrations[i]
            .migration
            .operations
            .as_deref()
            .unwrap_or_default()
    }

    fn file_of(&self, key: &Key) -> Option<usize> {
        file_of(self.graph, key)
    }
}

fn file_of(graph: &Graph, key: &Key) -> Option<usize> {
    match graph.node(key)?.kind {
        NodeKind::Migration(i) => Some(i),
        _ => None,
    }
}

/// The app's migrations (`keys`, sorted) in the order Django's plan applies them: planned
/// from the app's leaves in name order through same-app parents (see [`Graph::plan`]: of two
/// siblings the one named last comes first, so which branch altering a field wins before their
/// merge migration depends on it); then, for a history Django would refuse (a cycle has no
/// leaf), from any migration not reached, so that each is replayed once all the same.
fn app_order<'g>(graph: &'g Graph, app: &str, keys: Vec<&'g Key>) -> Vec<&'g Key> {
    let leaves = keys
        .iter()
        .copied()
        .filter(|key| !graph.children(key).iter().any(|c| c.app == app));
    graph.plan(leaves.chain(keys.iter().copied()), |parent| {
        parent.app == app
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::WorkTree;

    #[test]
    fn names_lower_as_unicode_lowers_them() {
        for name in [
            "Book",
            "OrderLINE",
            "x_1",
            "",
            "Ünïcode",
            "ÀB_c",
            "İstanbul",
            "ΣΑΣ",
        ] {
            assert_eq!(
                lower(name),
                CompactString::from(name.to_lowercase()),
                "{name}"
            );
        }
    }

    fn migration(deps: &[&str], ops: &str) -> String {
        let deps: Vec<String> = deps.iter().map(|d| format!("('shop', '{d}')")).collect();
        format!(
            "class Migration(migrations.Migration):\n    dependencies = [{}]\n    operations = [\n        {ops}\n    ]\n",
            deps.join(", ")
        )
    }

    /// A fork of app `shop`: 0001 creates `Book` with `fields`, its children 0002_a and 0002_b
    /// run `a` and `b`, 0003_merge merges them.
    fn fork(fields: &str, a: &str, b: &str) -> (tempfile::TempDir, Project, Graph) {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("shop/migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        std::fs::write(migrations.join("__init__.py"), "").unwrap();
        let create = format!("migrations.CreateModel(name='Book', fields=[{fields}]),");
        let files = [
            ("0001_initial", migration(&[], &create)),
            ("0002_a", migration(&["0001_initial"], a)),
            ("0002_b", migration(&["0001_initial"], b)),
            ("0003_merge", migration(&["0002_a", "0002_b"], "")),
        ];
        for (name, text) in &files {
            std::fs::write(migrations.join(format!("{name}.py")), text).unwrap();
        }
        let source = WorkTree::new(dir.path()).unwrap();
        let project = crate::project::load(&source).unwrap();
        let graph = Graph::build(&project);
        (dir, project, graph)
    }

    /// A fork: 0002_a removes `title`, its sibling 0002_b renames `pages`, 0003 merges them.
    fn forked_project() -> (tempfile::TempDir, Project, Graph) {
        fork(
            "('id', models.AutoField()), ('title', models.CharField(max_length=9)), ('pages', models.IntegerField())",
            "migrations.RemoveField('book', 'title'),",
            "migrations.RenameField('book', 'pages', 'leaves'),",
        )
    }

    /// What `look` sees of `Book` in the state before each migration, by migration name.
    fn replayed<T: Send>(
        project: &Project,
        graph: &Graph,
        look: impl Fn(Option<&ModelState<'_>>) -> T + Sync,
    ) -> BTreeMap<String, T> {
        let all: Vec<usize> = (0..project.migrations.len()).collect();
        Replay::new(graph, project)
            .map(&Plan::new(graph, &all), |i, state| {
                (
                    project.migrations[i].name.clone(),
                    look(state.model("Book")),
                )
            })
            .into_iter()
            .collect()
    }

    fn states(project: &Project, graph: &Graph) -> BTreeMap<String, Vec<String>> {
        replayed(project, graph, |book| {
            book.map(|m| m.fields.keys().map(ToString::to_string).collect())
                .unwrap_or_default()
        })
    }

    /// Two siblings add the same field with different classes; Django's plan for their merge
    /// migration is 0001, 0002_b, 0002_a (`iterative_dfs` pops the parent named last first:
    /// checked with Django 6.1's `MigrationGraph.forwards_plan`), so 0002_a's field is the one
    /// the merge sees, and the replay must agree, or a rule comparing with the field's previous
    /// definition reads the other branch's.
    #[test]
    fn siblings_are_replayed_in_django_plan_order() {
        let (_dir, project, graph) = fork(
            "('id', models.AutoField())",
            "migrations.AddField('book', 'x', models.IntegerField(default=0)),",
            "migrations.AddField('book', 'x', models.CharField(max_length=5, default='')),",
        );
        let seen = replayed(&project, &graph, |book| {
            book.and_then(|m| m.fields.get("x"))
                .and_then(|f| f.class.clone())
        });
        assert_eq!(seen["0003_merge"].as_deref(), Some("IntegerField"));
    }

    #[test]
    fn each_migration_sees_its_ancestors_only() {
        let (_dir, project, graph) = forked_project();
        let seen = states(&project, &graph);
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(seen["0001_initial"], Vec::<String>::new());
        // Its sibling's RenameField ran first in Django's order, but is not its ancestor.
        assert_eq!(seen["0002_a"], names(&["id", "pages", "title"]));
        assert_eq!(seen["0002_b"], names(&["id", "pages", "title"]));
        assert_eq!(seen["0003_merge"], names(&["id", "leaves"]));
    }
}
