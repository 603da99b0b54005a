//! Fetching ahead of the resolver: the pages (and the newest version's metadata) of packages it
//! is about to ask about, on a fixed pool of fetch threads that bounds requests in flight.

use std::sync::{Arc, Mutex};

use lastmile_dist::DistMetadata;
use lastmile_python::PackageName;

use super::{Finder, Slot};
use crate::http::redact;

impl Finder {
    /// Start fetching these packages' pages (and the metadata of their newest usable version)
    /// in the background; a later question about them waits for the fetch instead of starting
    /// another.
    pub fn prefetch<I: IntoIterator<Item = PackageName>>(&self, names: I) {
        if self.inner.indexes.is_empty() {
            return;
        }
        for name in names {
            if !self.claim(&name) {
                continue;
            }
            let finder = self.clone();
            self.inner.pool.run(move || {
                finder.prefetch(finder.predicted_dependencies(&name));
                let Ok(project) = finder.project(&name) else {
                    return;
                };
                let newest = project.versions.iter().rev().find(|(v, files)| {
                    !v.any_prerelease() && files.iter().any(|f| f.installable() && f.yanked.is_none())
                });
                if let Some((version, _)) = newest
                    && let Ok(Some((meta, _))) = finder.metadata(&name, version)
                {
                    // Speculate one step further: the pages this version's dependencies need, so
                    // a chain of dependencies is fetched side by side, not one after the other.
                    let names = finder.dependency_names(&meta);
                    let listed: Vec<String> = names.iter().map(ToString::to_string).collect();
                    finder
                        .inner
                        .client
                        .store_hint(&finder.hint_key(&name), listed.join("\n").as_bytes());
                    finder.prefetch(names);
                }
            });
        }
    }

    /// What an earlier run found this package's newest version to need, without waiting for
    /// the network (a hint the prefetch above stores). Lets a warm run that must revalidate
    /// every page send all its requests at once instead of one level of the dependency graph at
    /// a time, without parsing any page twice.
    fn predicted_dependencies(&self, name: &PackageName) -> Vec<PackageName> {
        let Some(hint) = self.inner.client.hint(&self.hint_key(name)) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&hint)
            .lines()
            .filter_map(|line| line.parse().ok())
            .collect()
    }

    /// The key of a package's hint: the same sources and target give the same answer.
    fn hint_key(&self, name: &PackageName) -> String {
        let indexes: Vec<String> = self.inner.indexes.iter().map(|i| redact(i.as_str())).collect();
        format!(
            "dependencies-v1 {} {} {name}",
            indexes.join(" "),
            self.inner.target
        )
    }

    /// The packages a distribution depends on for the target (markers evaluated, no extras).
    pub(super) fn dependency_names(&self, meta: &DistMetadata) -> Vec<PackageName> {
        let env = &self.inner.env;
        meta.dependencies
            .iter()
            .filter(|raw| raw.extra.is_none() && raw.marker.is_none())
            .filter_map(|raw| lastmile_python::requirement::parse_requirement(&raw.text, &raw.location).ok())
            .filter(|requirement| requirement.marker.evaluate(env, &[]))
            .map(|requirement| requirement.name)
            .collect()
    }

    /// Reserve a package's slot; false when it was already asked for or fetched.
    fn claim(&self, name: &PackageName) -> bool {
        let mut projects = self.inner.projects.lock().expect("projects lock");
        if projects.contains_key(name) {
            return false;
        }
        projects.insert(name.clone(), Slot::default());
        true
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of fetch threads, started on first use, that sleep (not spin) while idle: the
/// bound on requests in flight.
pub(super) struct WorkPool {
    size: usize,
    sender: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

impl WorkPool {
    pub(super) fn new(size: usize) -> Self {
        Self {
            size,
            sender: Mutex::new(None),
        }
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) {
        let mut sender = self.sender.lock().expect("pool lock");
        let sender = sender.get_or_insert_with(|| {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for i in 0..self.size {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("lastmile-fetch-{i}"))
                    .spawn(move || {
                        loop {
                            let job = receiver.lock().expect("pool queue").recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => break,
                            }
                        }
                    });
                if spawned.is_err() {
                    break;
                }
            }
            sender
        });
        // Workers only stop when the sender is dropped, so a send cannot fail while we hold it.
        let _ = sender.send(Box::new(job));
    }
}
