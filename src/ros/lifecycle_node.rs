//! `--lifecycle` (parameter `managed`): the node serves the lifecycle_msgs services under its name
//! (`~/change_state`, `~/get_state`, `~/get_available_states`, `~/get_available_transitions`,
//! `~/get_transition_graph`) and publishes `~/transition_event`, as an rclcpp LifecycleNode does,
//! so `ros2 lifecycle` and launch_ros drive it. The work of each transition (load the model, start
//! capture, ...) is the pipeline owner's: it is asked over [`LifecycleCall`] and answers an [`Outcome`].

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ros2_client::{MessageTypeName, Name, Node, Publisher, Server, ServiceMapping, ServiceTypeName};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::error::PublishError;
use super::lifecycle::{self, state};
use super::msgs_lifecycle::*;
use super::names::NameResolver;
use super::qos::QosSpec;
use super::services::serve;
use crate::link::{LifecycleCall, Outcome, Step};

/// The lifecycle services and the event publisher.
pub struct LifecycleEndpoints {
    change_state: Server<ChangeStateRequest, ChangeStateResponse>,
    get_state: Server<GetStateRequest, GetStateResponse>,
    get_available_states: Server<GetAvailableStatesRequest, GetAvailableStatesResponse>,
    get_available_transitions: Server<GetAvailableTransitionsRequest, GetAvailableTransitionsResponse>,
    get_transition_graph: Server<GetAvailableTransitionsRequest, GetAvailableTransitionsResponse>,
    events: Publisher<TransitionEvent>,
}

/// Creates the endpoints under the node's name (services reliable, keep last 10, as rcl's defaults).
pub fn create(node: &mut Node, names: &NameResolver) -> Result<LifecycleEndpoints, PublishError> {
    let qos = QosSpec::reliable(10).profile();
    let resolve = |n: &str| -> Result<(String, Name), PublishError> {
        let resolved = names.resolve(n)?;
        let name = Name::parse(&resolved).map_err(|e| PublishError::dds(format!("naming {resolved}"), e))?;
        Ok((resolved, name))
    };
    macro_rules! server {
        ($name:expr, $ty:expr) => {{
            let (resolved, name) = resolve($name)?;
            node.create_server(
                ServiceMapping::Enhanced,
                &name,
                &ServiceTypeName::new("lifecycle_msgs", $ty),
                qos.clone(),
                qos.clone(),
            )
            .map_err(|e| PublishError::dds(format!("creating service {resolved}"), e))?
        }};
    }
    let change_state = server!("~/change_state", "ChangeState");
    let get_state = server!("~/get_state", "GetState");
    let get_available_states = server!("~/get_available_states", "GetAvailableStates");
    let get_available_transitions = server!("~/get_available_transitions", "GetAvailableTransitions");
    let get_transition_graph = server!("~/get_transition_graph", "GetAvailableTransitions");
    let (resolved, name) = resolve("~/transition_event")?;
    let topic = node
        .create_topic(&name, MessageTypeName::new("lifecycle_msgs", "TransitionEvent"), &qos)
        .map_err(|e| PublishError::dds(format!("creating topic {resolved}"), e))?;
    let events = node
        .create_publisher(&topic, None)
        .map_err(|e| PublishError::dds(format!("creating publisher {resolved}"), e))?;
    info!(node = %names.fully_qualified_node(), "managed node: lifecycle services up, state unconfigured");
    Ok(LifecycleEndpoints {
        change_state,
        get_state,
        get_available_states,
        get_available_transitions,
        get_transition_graph,
        events,
    })
}

/// The current state and where transitions are announced.
struct Machine {
    current: Mutex<u8>,
    events: Publisher<TransitionEvent>,
    calls: mpsc::Sender<LifecycleCall>,
}

impl Machine {
    fn current(&self) -> u8 {
        self.current.lock().map(|s| *s).unwrap_or(state::UNKNOWN)
    }

    /// Moves to `goal` by `transition` and publishes the event.
    fn enter(&self, transition: u8, start: u8, goal: u8) {
        if let Ok(mut s) = self.current.lock() {
            *s = goal;
        }
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let event = TransitionEvent {
            timestamp,
            transition: lifecycle::transition_msg(transition),
            start_state: lifecycle::state_msg(start),
            goal_state: lifecycle::state_msg(goal),
        };
        if let Err(e) = self.events.publish(event) {
            warn!("publishing transition_event failed: {e:?}");
        }
    }

    async fn run(&self, step: Step) -> Outcome {
        let (reply, answer) = oneshot::channel();
        if self.calls.send(LifecycleCall { step, reply }).await.is_err() {
            return Outcome::Error("the pipeline owner has stopped".into());
        }
        answer.await.unwrap_or_else(|_| Outcome::Error("the pipeline owner dropped the request".into()))
    }

    /// Runs one requested transition to its end; `true` when its work succeeded.
    async fn change(&self, req: &Transition) -> bool {
        let begun = {
            let Ok(mut s) = self.current.lock() else { return false };
            match lifecycle::begin(*s, req.id, &req.label) {
                Ok(b) => {
                    *s = b.via;
                    b
                }
                Err(reason) => {
                    warn!("change_state refused: {reason}");
                    return false;
                }
            }
        };
        self.enter(begun.transition, begun.from, begun.via);
        let outcome = self.run(begun.step).await;
        let (done, goal) = lifecycle::finish(begun.via, &outcome);
        self.report(begun.via, &outcome, goal);
        self.enter(done, begun.via, goal);
        if goal == state::ERRORPROCESSING {
            let recovery = self.run(Step::Error).await;
            let (done, goal) = lifecycle::finish(state::ERRORPROCESSING, &recovery);
            self.report(state::ERRORPROCESSING, &recovery, goal);
            self.enter(done, state::ERRORPROCESSING, goal);
        }
        outcome == Outcome::Success
    }

    fn report(&self, via: u8, outcome: &Outcome, goal: u8) {
        let (step, to) = (lifecycle::state_label(via), lifecycle::state_label(goal));
        match outcome {
            Outcome::Success if via == state::ERRORPROCESSING => {
                info!("lifecycle: error processing tore down capture, worker and model; now {to} (configure to retry)")
            }
            Outcome::Success => info!("lifecycle: {step} done, now {to}"),
            Outcome::Failure(why) => error!("lifecycle: {step} failed: {why}; now {to}"),
            Outcome::Error(why) => error!("lifecycle: {step} raised an error: {why}; now {to}"),
        }
    }
}

/// Serves every lifecycle endpoint on its own task (a slow configure never holds up `get_state`).
pub fn spawn(endpoints: LifecycleEndpoints, calls: mpsc::Sender<LifecycleCall>, tasks: &mut Vec<JoinHandle<()>>) {
    let LifecycleEndpoints {
        change_state,
        get_state,
        get_available_states,
        get_available_transitions,
        get_transition_graph,
        events,
    } = endpoints;
    let machine = Arc::new(Machine { current: Mutex::new(state::UNCONFIGURED), events, calls });
    let m = machine.clone();
    tasks.push(tokio::spawn(async move {
        serve("change_state", change_state, |req: ChangeStateRequest| {
            let m = m.clone();
            async move { ChangeStateResponse { success: m.change(&req.transition).await } }
        })
        .await
    }));
    let m = machine.clone();
    tasks.push(tokio::spawn(async move {
        serve("get_state", get_state, |_: GetStateRequest| {
            let current_state = lifecycle::state_msg(m.current());
            async move { GetStateResponse { current_state } }
        })
        .await
    }));
    tasks.push(tokio::spawn(async move {
        serve("get_available_states", get_available_states, |_: GetAvailableStatesRequest| async {
            GetAvailableStatesResponse { available_states: lifecycle::STATES.map(lifecycle::state_msg).to_vec() }
        })
        .await
    }));
    let m = machine;
    tasks.push(tokio::spawn(async move {
        serve("get_available_transitions", get_available_transitions, |_: GetAvailableTransitionsRequest| {
            let available_transitions = lifecycle::available(m.current());
            async move { GetAvailableTransitionsResponse { available_transitions } }
        })
        .await
    }));
    tasks.push(tokio::spawn(async move {
        serve("get_transition_graph", get_transition_graph, |_: GetAvailableTransitionsRequest| async {
            GetAvailableTransitionsResponse { available_transitions: lifecycle::graph() }
        })
        .await
    }));
}
