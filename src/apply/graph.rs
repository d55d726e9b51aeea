//! Turns a plan into a graph of steps: which create, update or delete must finish before
//! which. Pure, so the ordering rules are unit-tested without AWS.

use std::collections::{BTreeMap, VecDeque};

use crate::model::{Id, delete_waits_for};
use crate::plan::{Action, Plan, PlannedChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Create,
    Update,
    Delete,
}

/// One unit of work on one resource.
#[derive(Debug, Clone)]
pub struct Step<'p> {
    pub id: Id,
    pub kind: StepKind,
    pub change: &'p PlannedChange,
    /// Indexes of the steps that must finish first.
    pub after: Vec<usize>,
}

#[derive(Debug)]
pub struct StepGraph<'p> {
    pub steps: Vec<Step<'p>>,
}

#[derive(Debug, thiserror::Error)]
#[error("internal error: the plan's steps form a cycle through {0}; please report this with the plan")]
pub struct CycleError(String);

impl<'p> StepGraph<'p> {
    pub fn new(plan: &'p Plan) -> Result<Self, CycleError> {
        let mut steps: Vec<Step<'p>> = Vec::new();
        let mut index: BTreeMap<(Id, StepKind), usize> = BTreeMap::new();
        let mut push = |steps: &mut Vec<Step<'p>>, change: &'p PlannedChange, kind| {
            // Duplicates share a logical id; only the first delete of an id is addressable.
            index.entry((change.id.clone(), kind)).or_insert(steps.len());
            steps.push(Step {
                id: change.id.clone(),
                kind,
                change,
                after: Vec::new(),
            });
        };
        for change in &plan.changes {
            match change.action {
                Action::Create => push(&mut steps, change, StepKind::Create),
                Action::Update => push(&mut steps, change, StepKind::Update),
                Action::Delete => push(&mut steps, change, StepKind::Delete),
                Action::Replace => {
                    push(&mut steps, change, StepKind::Delete);
                    push(&mut steps, change, StepKind::Create);
                }
            }
        }
        let find = |id: &Id, kind| index.get(&(id.clone(), kind)).copied();
        // Replaced delete-first: whatever points at it follows the new incarnation instead of
        // letting go of the old one first (it cannot: the new one does not exist yet).
        let replaced_delete_first = |id: &Id| {
            find(id, StepKind::Delete).is_some_and(|at| !steps[at].change.creates_first())
                && find(id, StepKind::Create).is_some()
        };

        let mut edges: Vec<(usize, usize)> = Vec::new(); // (before, after)
        for (at, step) in steps.iter().enumerate() {
            match step.kind {
                StepKind::Create | StepKind::Update => {
                    // What a resource points at must exist (and be in its final shape) first.
                    let desired = step
                        .change
                        .desired
                        .as_ref()
                        .expect("creates and updates have a desired spec");
                    let references = desired.spec.references();
                    let targets = references
                        .iter()
                        .filter_map(|reference| reference.target.managed())
                        .chain(&desired.after);
                    for target in targets {
                        for kind in [StepKind::Create, StepKind::Update] {
                            if let Some(before) = find(target, kind) {
                                edges.push((before, at));
                            }
                        }
                    }
                    if step.kind == StepKind::Create
                        && let Some(delete) = find(&step.id, StepKind::Delete)
                    {
                        if step.change.creates_first() {
                            edges.push((at, delete));
                        } else {
                            edges.push((delete, at));
                        }
                    }
                }
                StepKind::Delete => {
                    // Whatever points at this resource today lets go of it first: deleted, or
                    // updated to point elsewhere (unless this is a replacement, whose new
                    // incarnation the update must wait for instead).
                    for (other_at, other) in steps.iter().enumerate() {
                        let Some(observed) = &other.change.observed else {
                            continue;
                        };
                        let points_here = observed
                            .spec
                            .references()
                            .iter()
                            .any(|r| r.target.managed() == Some(&step.id));
                        if !points_here || other_at == at {
                            continue;
                        }
                        match other.kind {
                            StepKind::Delete => edges.push((other_at, at)),
                            StepKind::Update if !replaced_delete_first(&step.id) => edges.push((other_at, at)),
                            _ => {}
                        }
                    }
                    // What AWS wants gone first though nothing points at it (model::ordering).
                    if let Some(observed) = &step.change.observed {
                        for (other_at, other) in steps.iter().enumerate() {
                            if other.kind == StepKind::Delete
                                && let Some(theirs) = &other.change.observed
                                && delete_waits_for((&step.id, &observed.spec), (&other.id, &theirs.spec))
                            {
                                edges.push((other_at, at));
                            }
                        }
                    }
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        for (before, after) in edges {
            steps[after].after.push(before);
        }
        let graph = Self { steps };
        graph.check_acyclic()?;
        Ok(graph)
    }

    fn check_acyclic(&self) -> Result<(), CycleError> {
        let mut waiting: Vec<usize> = self.steps.iter().map(|s| s.after.len()).collect();
        let mut ready: VecDeque<usize> = (0..self.steps.len()).filter(|&i| waiting[i] == 0).collect();
        let mut done = 0;
        while let Some(i) = ready.pop_front() {
            done += 1;
            for (j, step) in self.steps.iter().enumerate() {
                if step.after.contains(&i) {
                    waiting[j] -= 1;
                    if waiting[j] == 0 {
                        ready.push_back(j);
                    }
                }
            }
        }
        if done == self.steps.len() {
            Ok(())
        } else {
            let stuck = (0..self.steps.len()).find(|&i| waiting[i] > 0).expect("a stuck step");
            Err(CycleError(self.steps[stuck].id.to_string()))
        }
    }

    /// For each step, the longest expected duration of it plus everything that waits on it:
    /// the executor starts the step with the longest tail first.
    pub fn critical_path_seconds(&self) -> Vec<u32> {
        let mut memo: Vec<Option<u32>> = vec![None; self.steps.len()];
        fn tail(graph: &StepGraph<'_>, i: usize, memo: &mut Vec<Option<u32>>) -> u32 {
            if let Some(value) = memo[i] {
                return value;
            }
            let own = graph.steps[i].change.kind.typical_seconds();
            let rest = (0..graph.steps.len())
                .filter(|&j| graph.steps[j].after.contains(&i))
                .map(|j| tail(graph, j, memo))
                .max()
                .unwrap_or(0);
            memo[i] = Some(own + rest);
            own + rest
        }
        (0..self.steps.len()).map(|i| tail(self, i, &mut memo)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_environment;
    use crate::model::{Desired, desired};

    fn staging() -> Desired {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        desired(&config, &crate::model::example_facts(2)).unwrap()
    }

    /// Position of each (id, kind) in one valid execution order.
    fn order(graph: &StepGraph<'_>) -> BTreeMap<(String, StepKind), usize> {
        let mut done: Vec<bool> = vec![false; graph.steps.len()];
        let mut sequence = BTreeMap::new();
        while sequence.len() < graph.steps.len() {
            let next = (0..graph.steps.len())
                .find(|&i| !done[i] && graph.steps[i].after.iter().all(|&j| done[j]))
                .expect("acyclic");
            done[next] = true;
            sequence.insert(
                (graph.steps[next].id.to_string(), graph.steps[next].kind),
                sequence.len(),
            );
        }
        sequence
    }

    fn before(order: &BTreeMap<(String, StepKind), usize>, a: (&str, StepKind), b: (&str, StepKind)) -> bool {
        order[&(a.0.to_owned(), a.1)] < order[&(b.0.to_owned(), b.1)]
    }

    #[test]
    fn creates_follow_references() {
        let plan = crate::plan::plan(&staging(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        let order = order(&graph);
        use StepKind::Create as C;
        assert!(before(&order, ("vpc", C), ("subnet-public-a", C)));
        assert!(before(&order, ("nat-eip-a", C), ("nat-gateway-a", C)));
        assert!(before(&order, ("nat-gateway-a", C), ("route-table-private-b", C)));
        assert!(before(
            &order,
            ("security-group-lb", C),
            ("security-group-app-rules", C)
        ));
        assert!(before(
            &order,
            ("security-group-db", C),
            ("security-group-app-rules", C)
        ));
    }

    #[test]
    fn destroy_runs_in_reverse_dependency_order() {
        let desired = staging();
        let empty = Desired {
            environment: "staging".into(),
            resources: BTreeMap::new(),
        };
        let plan = crate::plan::plan(&empty, &crate::model::as_deployed(&desired));
        let graph = StepGraph::new(&plan).unwrap();
        let order = order(&graph);
        use StepKind::Delete as D;
        assert!(before(&order, ("subnet-public-a", D), ("vpc", D)));
        assert!(before(&order, ("nat-gateway-a", D), ("nat-eip-a", D)));
        assert!(before(&order, ("nat-gateway-a", D), ("subnet-public-a", D)));
        assert!(before(&order, ("nat-gateway-a", D), ("internet-gateway", D)));
        assert!(before(&order, ("nat-eip-a", D), ("internet-gateway", D)));
        assert!(before(&order, ("route-table-public", D), ("internet-gateway", D)));
        assert!(before(
            &order,
            ("security-group-app-rules", D),
            ("security-group-lb", D)
        ));
        assert!(before(
            &order,
            ("security-group-lb-rules", D),
            ("security-group-app", D)
        ));
        assert!(before(&order, ("internet-gateway", D), ("vpc", D)));
    }

    #[test]
    fn replacement_deletes_before_it_creates_and_dependants_wait_for_the_new_one() {
        let desired = staging();
        let mut observed = crate::model::as_deployed(&desired);
        let nat = observed.iter_mut().find(|r| r.id.as_str() == "nat-gateway-a").unwrap();
        let crate::model::Spec::NatGateway(spec) = &mut nat.spec else {
            panic!()
        };
        spec.subnet = crate::model::Ref::to("subnet-public-b");
        let plan = crate::plan::plan(&desired, &observed);
        let graph = StepGraph::new(&plan).unwrap();
        let order = order(&graph);
        assert!(before(
            &order,
            ("nat-gateway-a", StepKind::Delete),
            ("nat-gateway-a", StepKind::Create)
        ));
        assert!(before(
            &order,
            ("nat-gateway-a", StepKind::Create),
            ("route-table-private-a", StepKind::Update)
        ));
    }

    #[test]
    fn turning_access_logs_off_stops_the_load_balancer_writing_before_the_bucket_goes() {
        let production = include_str!("../../environments/production.yaml");
        let config = crate::config::parse_environment(production, "production").unwrap();
        let with_logs = crate::model::desired(&config, &crate::model::example_facts(3)).unwrap();
        assert!(with_logs.resources.contains_key(&crate::model::Id::from("log-bucket")));
        let mut config = config;
        config.load_balancer.access_logs = None;
        let without = crate::model::desired(&config, &crate::model::example_facts(3)).unwrap();
        let plan = crate::plan::plan(&without, &crate::model::as_deployed(&with_logs));
        let graph = StepGraph::new(&plan).unwrap();
        let order = order(&graph);
        assert!(before(
            &order,
            ("load-balancer", StepKind::Update),
            ("log-bucket", StepKind::Delete)
        ));
        assert!(
            plan.destroys_anything(),
            "a protected environment's logs go only with --allow-destroy"
        );

        // Turned on: the bucket (with its policy) exists before the load balancer points at it.
        let plan = crate::plan::plan(&with_logs, &crate::model::as_deployed(&without));
        let order = self::order(&StepGraph::new(&plan).unwrap());
        assert!(before(
            &order,
            ("log-bucket", StepKind::Create),
            ("load-balancer", StepKind::Update)
        ));
    }

    /// Whether step `later` waits, through the graph's edges, for step `earlier`: an order
    /// alone could put them right by chance (ids sort alphabetically).
    fn waits(graph: &StepGraph<'_>, later: (&str, StepKind), earlier: (&str, StepKind)) -> bool {
        let find = |(id, kind): (&str, StepKind)| {
            graph
                .steps
                .iter()
                .position(|s| s.id.as_str() == id && s.kind == kind)
                .unwrap_or_else(|| panic!("no step {kind:?} {id}"))
        };
        let (from, to) = (find(later), find(earlier));
        let mut seen = vec![false; graph.steps.len()];
        let mut stack = vec![from];
        while let Some(at) = stack.pop() {
            if at == to {
                return true;
            }
            if !std::mem::replace(&mut seen[at], true) {
                stack.extend(&graph.steps[at].after);
            }
        }
        false
    }

    fn production() -> Desired {
        let config = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
        desired(&config, &crate::model::example_facts(3)).unwrap()
    }

    fn development() -> Desired {
        let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        desired(&config, &crate::model::example_facts(2)).unwrap()
    }

    /// Issue 25, items 1 and 2: AWS refuses a service whose target group no listener forwards
    /// to, and an internet-facing load balancer or public NAT before the gateway is attached.
    #[test]
    fn the_service_waits_for_its_forwarding_listener_and_public_things_for_the_gateway() {
        use StepKind::Create as C;
        for desired in [staging(), production()] {
            let plan = crate::plan::plan(&desired, &[]);
            let graph = StepGraph::new(&plan).unwrap();
            let forwarding = if desired.environment == "production" {
                "listener-https"
            } else {
                "listener-http"
            };
            assert!(
                waits(&graph, ("ecs-service", C), (forwarding, C)),
                "{}",
                desired.environment
            );
            assert!(
                waits(&graph, ("service-scaling", C), (forwarding, C)),
                "{}",
                desired.environment
            );
            assert!(waits(&graph, ("load-balancer", C), ("internet-gateway", C)));
            assert!(waits(&graph, ("nat-gateway-a", C), ("internet-gateway", C)));
        }
        let plan = crate::plan::plan(&development(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        assert!(waits(&graph, ("load-balancer", C), ("internet-gateway", C)));
    }

    /// Item 4: compute starts only once its subnets route out through the NAT gateway.
    #[test]
    fn compute_waits_for_its_subnets_default_routes() {
        use StepKind::Create as C;
        let plan = crate::plan::plan(&production(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        for zone in ["a", "b", "c"] {
            assert!(waits(
                &graph,
                ("ecs-service", C),
                (&format!("route-table-private-{zone}"), C)
            ));
        }
        let plan = crate::plan::plan(&development(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        for zone in ["a", "b"] {
            assert!(waits(
                &graph,
                ("auto-scaling-group", C),
                (&format!("route-table-private-{zone}"), C)
            ));
        }
    }

    /// Item 11: the reader is created after the writer, never beside it.
    #[test]
    fn aurora_instances_are_created_one_after_another() {
        let plan = crate::plan::plan(&production(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        assert!(waits(
            &graph,
            ("db-instance-2", StepKind::Create),
            ("db-instance-1", StepKind::Create)
        ));
    }

    #[test]
    fn aurora_readers_are_deleted_before_the_writer_one_at_a_time() {
        let empty = Desired {
            environment: "production".into(),
            resources: BTreeMap::new(),
        };
        let plan = crate::plan::plan(&empty, &crate::model::as_deployed(&production()));
        let graph = StepGraph::new(&plan).unwrap();
        assert!(waits(
            &graph,
            ("db-instance-1", StepKind::Delete),
            ("db-instance-2", StepKind::Delete)
        ));
    }

    /// Destroy: the internet gateway is detached only after everything mapping public
    /// addresses in the VPC is gone (AWS: "has some mapped public address(es)").
    #[test]
    fn the_gateway_outlives_the_load_balancer_on_destroy() {
        let empty = Desired {
            environment: "staging".into(),
            resources: BTreeMap::new(),
        };
        let plan = crate::plan::plan(&empty, &crate::model::as_deployed(&staging()));
        let graph = StepGraph::new(&plan).unwrap();
        assert!(waits(
            &graph,
            ("internet-gateway", StepKind::Delete),
            ("load-balancer", StepKind::Delete)
        ));
    }

    /// Item 3: a new app port replaces the target group beside the old one: the listener and
    /// the service move to the new group before the old one (which AWS refuses to delete
    /// while a listener forwards to it) goes.
    #[test]
    fn a_replaced_target_group_is_created_first_and_deleted_once_nothing_uses_it() {
        let old = staging();
        let mut config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        config.app.port = 8080;
        let new = desired(&config, &crate::model::example_facts(2)).unwrap();
        let plan = crate::plan::plan(&new, &crate::model::as_deployed(&old));
        let group = plan.changes.iter().find(|c| c.id.as_str() == "target-group").unwrap();
        assert_eq!(group.action, Action::Replace);
        assert!(group.creates_first(), "{:?}", group.reasons);
        let graph = StepGraph::new(&plan).unwrap();
        use StepKind::{Create as C, Delete as D, Update as U};
        assert!(waits(&graph, ("listener-http", U), ("target-group", C)));
        assert!(waits(&graph, ("target-group", D), ("listener-http", U)));
        assert!(waits(&graph, ("target-group", D), ("ecs-service", D)));
        assert!(waits(&graph, ("ecs-service", C), ("target-group", C)));
        assert!(
            !waits(&graph, ("target-group", C), ("target-group", D)),
            "created first"
        );
        assert!(
            crate::plan::render_text(&plan).contains("+/- target_group"),
            "{}",
            crate::plan::render_text(&plan)
        );

        // A new VPC replaces everything in it delete-first: the name repeats, nothing cycles.
        config.network.cidr = "10.9.0.0/16".parse().unwrap();
        let moved = desired(&config, &crate::model::example_facts(2)).unwrap();
        let plan = crate::plan::plan(&moved, &crate::model::as_deployed(&new));
        let graph = StepGraph::new(&plan).unwrap();
        let group = plan.changes.iter().find(|c| c.id.as_str() == "target-group").unwrap();
        assert!(!group.creates_first());
        assert!(waits(&graph, ("target-group", C), ("target-group", D)));
    }

    #[test]
    fn slow_chains_rank_first() {
        let plan = crate::plan::plan(&staging(), &[]);
        let graph = StepGraph::new(&plan).unwrap();
        let ranks = graph.critical_path_seconds();
        let rank = |id: &str| ranks[graph.steps.iter().position(|s| s.id.as_str() == id).unwrap()];
        // The database chain (minutes on real AWS) outranks the NAT chain, which outranks the rest.
        assert!(rank("db-subnet-group") > rank("nat-eip-a"));
        assert!(rank("nat-eip-a") > rank("route-table-public"));
        assert!(rank("vpc") >= rank("nat-eip-a"));
    }
}
