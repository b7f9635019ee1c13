//! The standard ROS 2 node lifecycle (the state machine of rcl_lifecycle): primary and transition
//! states, transitions with their ids and labels, and which transition leads where. Plain data, no
//! I/O: [`super::lifecycle_node`] serves it over ROS and runs each transition's work.

use super::msgs_lifecycle::{State as StateMsg, Transition as TransitionMsg, TransitionDescription};
use crate::link::{Outcome, Step};

/// lifecycle_msgs/State ids.
pub mod state {
    pub const UNKNOWN: u8 = 0;
    pub const UNCONFIGURED: u8 = 1;
    pub const INACTIVE: u8 = 2;
    pub const ACTIVE: u8 = 3;
    pub const FINALIZED: u8 = 4;
    pub const CONFIGURING: u8 = 10;
    pub const CLEANINGUP: u8 = 11;
    pub const SHUTTINGDOWN: u8 = 12;
    pub const ACTIVATING: u8 = 13;
    pub const DEACTIVATING: u8 = 14;
    pub const ERRORPROCESSING: u8 = 15;
}

/// lifecycle_msgs/Transition ids.
pub mod transition {
    pub const CONFIGURE: u8 = 1;
    pub const CLEANUP: u8 = 2;
    pub const ACTIVATE: u8 = 3;
    pub const DEACTIVATE: u8 = 4;
    pub const UNCONFIGURED_SHUTDOWN: u8 = 5;
    pub const INACTIVE_SHUTDOWN: u8 = 6;
    pub const ACTIVE_SHUTDOWN: u8 = 7;
    pub const ON_CONFIGURE_SUCCESS: u8 = 10;
    pub const ON_CONFIGURE_FAILURE: u8 = 11;
    pub const ON_CONFIGURE_ERROR: u8 = 12;
    pub const ON_CLEANUP_SUCCESS: u8 = 20;
    pub const ON_CLEANUP_FAILURE: u8 = 21;
    pub const ON_CLEANUP_ERROR: u8 = 22;
    pub const ON_ACTIVATE_SUCCESS: u8 = 30;
    pub const ON_ACTIVATE_FAILURE: u8 = 31;
    pub const ON_ACTIVATE_ERROR: u8 = 32;
    pub const ON_DEACTIVATE_SUCCESS: u8 = 40;
    pub const ON_DEACTIVATE_FAILURE: u8 = 41;
    pub const ON_DEACTIVATE_ERROR: u8 = 42;
    pub const ON_SHUTDOWN_SUCCESS: u8 = 50;
    pub const ON_SHUTDOWN_FAILURE: u8 = 51;
    pub const ON_SHUTDOWN_ERROR: u8 = 52;
    pub const ON_ERROR_SUCCESS: u8 = 60;
    pub const ON_ERROR_FAILURE: u8 = 61;
    pub const ON_ERROR_ERROR: u8 = 62;
}

use state as s;
use transition as t;

/// Every state, in rcl's registration order (what `~/get_available_states` answers).
pub const STATES: [u8; 11] = [
    s::UNKNOWN,
    s::UNCONFIGURED,
    s::INACTIVE,
    s::ACTIVE,
    s::FINALIZED,
    s::CONFIGURING,
    s::CLEANINGUP,
    s::SHUTTINGDOWN,
    s::ACTIVATING,
    s::DEACTIVATING,
    s::ERRORPROCESSING,
];

/// (transition id, start state, goal state), in rcl's registration order.
const TRANSITIONS: [(u8, u8, u8); 25] = [
    (t::CONFIGURE, s::UNCONFIGURED, s::CONFIGURING),
    (t::ON_CONFIGURE_SUCCESS, s::CONFIGURING, s::INACTIVE),
    (t::ON_CONFIGURE_FAILURE, s::CONFIGURING, s::UNCONFIGURED),
    (t::ON_CONFIGURE_ERROR, s::CONFIGURING, s::ERRORPROCESSING),
    (t::CLEANUP, s::INACTIVE, s::CLEANINGUP),
    (t::ON_CLEANUP_SUCCESS, s::CLEANINGUP, s::UNCONFIGURED),
    (t::ON_CLEANUP_FAILURE, s::CLEANINGUP, s::INACTIVE),
    (t::ON_CLEANUP_ERROR, s::CLEANINGUP, s::ERRORPROCESSING),
    (t::ACTIVATE, s::INACTIVE, s::ACTIVATING),
    (t::ON_ACTIVATE_SUCCESS, s::ACTIVATING, s::ACTIVE),
    (t::ON_ACTIVATE_FAILURE, s::ACTIVATING, s::INACTIVE),
    (t::ON_ACTIVATE_ERROR, s::ACTIVATING, s::ERRORPROCESSING),
    (t::DEACTIVATE, s::ACTIVE, s::DEACTIVATING),
    (t::ON_DEACTIVATE_SUCCESS, s::DEACTIVATING, s::INACTIVE),
    (t::ON_DEACTIVATE_FAILURE, s::DEACTIVATING, s::ACTIVE),
    (t::ON_DEACTIVATE_ERROR, s::DEACTIVATING, s::ERRORPROCESSING),
    (t::UNCONFIGURED_SHUTDOWN, s::UNCONFIGURED, s::SHUTTINGDOWN),
    (t::INACTIVE_SHUTDOWN, s::INACTIVE, s::SHUTTINGDOWN),
    (t::ACTIVE_SHUTDOWN, s::ACTIVE, s::SHUTTINGDOWN),
    (t::ON_SHUTDOWN_SUCCESS, s::SHUTTINGDOWN, s::FINALIZED),
    (t::ON_SHUTDOWN_FAILURE, s::SHUTTINGDOWN, s::FINALIZED),
    (t::ON_SHUTDOWN_ERROR, s::SHUTTINGDOWN, s::ERRORPROCESSING),
    (t::ON_ERROR_SUCCESS, s::ERRORPROCESSING, s::UNCONFIGURED),
    (t::ON_ERROR_FAILURE, s::ERRORPROCESSING, s::FINALIZED),
    (t::ON_ERROR_ERROR, s::ERRORPROCESSING, s::FINALIZED),
];

pub fn state_label(id: u8) -> &'static str {
    match id {
        s::UNCONFIGURED => "unconfigured",
        s::INACTIVE => "inactive",
        s::ACTIVE => "active",
        s::FINALIZED => "finalized",
        s::CONFIGURING => "configuring",
        s::CLEANINGUP => "cleaningup",
        s::SHUTTINGDOWN => "shuttingdown",
        s::ACTIVATING => "activating",
        s::DEACTIVATING => "deactivating",
        s::ERRORPROCESSING => "errorprocessing",
        _ => "unknown",
    }
}

pub fn transition_label(id: u8) -> &'static str {
    match id {
        t::CONFIGURE => "configure",
        t::CLEANUP => "cleanup",
        t::ACTIVATE => "activate",
        t::DEACTIVATE => "deactivate",
        t::UNCONFIGURED_SHUTDOWN | t::INACTIVE_SHUTDOWN | t::ACTIVE_SHUTDOWN => "shutdown",
        id if id >= 10 && id % 10 == 0 => "transition_success",
        id if id >= 10 && id % 10 == 1 => "transition_failure",
        _ => "transition_error",
    }
}

pub fn state_msg(id: u8) -> StateMsg {
    StateMsg { id, label: state_label(id).to_owned() }
}

pub fn transition_msg(id: u8) -> TransitionMsg {
    TransitionMsg { id, label: transition_label(id).to_owned() }
}

fn describe(&(id, start, goal): &(u8, u8, u8)) -> TransitionDescription {
    TransitionDescription { transition: transition_msg(id), start_state: state_msg(start), goal_state: state_msg(goal) }
}

/// The transitions that leave `state` (what `~/get_available_transitions` answers).
pub fn available(state: u8) -> Vec<TransitionDescription> {
    TRANSITIONS.iter().filter(|(_, start, _)| *start == state).map(describe).collect()
}

/// Every transition (`~/get_transition_graph`).
pub fn graph() -> Vec<TransitionDescription> {
    TRANSITIONS.iter().map(describe).collect()
}

/// A requested primary transition, once accepted: the transition state it enters and its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begun {
    pub transition: u8,
    pub from: u8,
    pub via: u8,
    pub step: Step,
}

/// Accepts a `ChangeState` request in `current`: by label when one is given (rcl's rule: the label
/// wins over the id, because command-line callers leave the id at 0), else by id.
pub fn begin(current: u8, id: u8, label: &str) -> Result<Begun, String> {
    let found = TRANSITIONS.iter().find(|(tid, start, _)| {
        *start == current && *tid < 10 && if label.is_empty() { *tid == id } else { transition_label(*tid) == label }
    });
    let Some(&(transition, from, via)) = found else {
        let asked = if label.is_empty() { format!("id {id}") } else { format!("'{label}'") };
        return Err(format!("transition {asked} is not available in state {}", state_label(current)));
    };
    let step = match via {
        s::CONFIGURING => Step::Configure,
        s::CLEANINGUP => Step::Cleanup,
        s::ACTIVATING => Step::Activate,
        s::DEACTIVATING => Step::Deactivate,
        _ => Step::Shutdown,
    };
    Ok(Begun { transition, from, via, step })
}

/// The transition that a finished step takes out of transition state `via`, and where it lands.
pub fn finish(via: u8, outcome: &Outcome) -> (u8, u8) {
    let kind = match outcome {
        Outcome::Success => 0,
        Outcome::Failure(_) => 1,
        Outcome::Error(_) => 2,
    };
    TRANSITIONS
        .iter()
        .find(|(tid, start, _)| *start == via && *tid >= 10 && tid % 10 == kind)
        .map(|&(tid, _, goal)| (tid, goal))
        .unwrap_or((t::ON_ERROR_ERROR, s::FINALIZED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(state: u8) -> Vec<&'static str> {
        available(state).iter().map(|d| transition_label(d.transition.id)).collect()
    }

    #[test]
    fn each_primary_state_offers_the_standard_transitions() {
        assert_eq!(labels(s::UNCONFIGURED), ["configure", "shutdown"]);
        assert_eq!(labels(s::INACTIVE), ["cleanup", "activate", "shutdown"]);
        assert_eq!(labels(s::ACTIVE), ["deactivate", "shutdown"]);
        assert!(labels(s::FINALIZED).is_empty());
        assert_eq!(graph().len(), 25);
        assert_eq!(STATES.map(state_label)[10], "errorprocessing");
    }

    #[test]
    fn labels_win_over_ids_and_wrong_transitions_are_refused() {
        let b = begin(s::ACTIVE, 0, "shutdown").unwrap();
        assert_eq!((b.transition, b.via, b.step), (t::ACTIVE_SHUTDOWN, s::SHUTTINGDOWN, Step::Shutdown));
        assert_eq!(begin(s::UNCONFIGURED, t::CONFIGURE, "").unwrap().step, Step::Configure);
        let e = begin(s::UNCONFIGURED, t::ACTIVATE, "").unwrap_err();
        assert!(e.contains("not available in state unconfigured"), "{e}");
        assert!(begin(s::CONFIGURING, 0, "configure").is_err(), "no second transition while one runs");
        assert!(begin(s::INACTIVE, 0, "transition_success").is_err(), "callback results are not requests");
    }

    #[test]
    fn outcomes_lead_where_rcl_says() {
        let fail = Outcome::Failure("x".into());
        let err = Outcome::Error("x".into());
        assert_eq!(finish(s::CONFIGURING, &Outcome::Success), (t::ON_CONFIGURE_SUCCESS, s::INACTIVE));
        assert_eq!(finish(s::CONFIGURING, &fail), (t::ON_CONFIGURE_FAILURE, s::UNCONFIGURED));
        assert_eq!(finish(s::ACTIVATING, &err), (t::ON_ACTIVATE_ERROR, s::ERRORPROCESSING));
        assert_eq!(finish(s::DEACTIVATING, &fail), (t::ON_DEACTIVATE_FAILURE, s::ACTIVE));
        assert_eq!(finish(s::CLEANINGUP, &Outcome::Success), (t::ON_CLEANUP_SUCCESS, s::UNCONFIGURED));
        assert_eq!(finish(s::SHUTTINGDOWN, &fail), (t::ON_SHUTDOWN_FAILURE, s::FINALIZED));
        assert_eq!(finish(s::ERRORPROCESSING, &Outcome::Success), (t::ON_ERROR_SUCCESS, s::UNCONFIGURED));
        assert_eq!(finish(s::ERRORPROCESSING, &err), (t::ON_ERROR_ERROR, s::FINALIZED));
        assert_eq!(transition_label(t::ON_ERROR_FAILURE), "transition_failure");
    }
}
