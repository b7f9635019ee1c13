//! Serde mirrors of `lifecycle_msgs` (messages and the services a managed node serves). Field
//! order and types follow the `.msg`/`.srv` files of the `ros-jazzy-lifecycle-msgs` wheel;
//! `tests/ros_msgs.rs` compares them field for field and against rosbags' CDR bytes.

use ros2_client::Message;
use serde::{Deserialize, Serialize};

/// lifecycle_msgs/State.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub id: u8,
    pub label: String,
}
impl Message for State {}

/// lifecycle_msgs/Transition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: u8,
    pub label: String,
}
impl Message for Transition {}

/// lifecycle_msgs/TransitionDescription.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionDescription {
    pub transition: Transition,
    pub start_state: State,
    pub goal_state: State,
}
impl Message for TransitionDescription {}

/// lifecycle_msgs/TransitionEvent, published on `~/transition_event` at every state change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionEvent {
    /// Nanoseconds since the epoch.
    pub timestamp: u64,
    pub transition: Transition,
    pub start_state: State,
    pub goal_state: State,
}
impl Message for TransitionEvent {}

/// lifecycle_msgs/srv/ChangeState request: the transition by id, or by label when the label is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateRequest {
    pub transition: Transition,
}
impl Message for ChangeStateRequest {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateResponse {
    pub success: bool,
}
impl Message for ChangeStateResponse {}

/// lifecycle_msgs/srv/GetState request (no fields: CDR writes one padding byte, as rosidl's
/// `structure_needs_at_least_one_member`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStateRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl Message for GetStateRequest {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStateResponse {
    pub current_state: State,
}
impl Message for GetStateResponse {}

/// lifecycle_msgs/srv/GetAvailableStates request (empty, see [`GetStateRequest`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableStatesRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl Message for GetAvailableStatesRequest {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableStatesResponse {
    pub available_states: Vec<State>,
}
impl Message for GetAvailableStatesResponse {}

/// lifecycle_msgs/srv/GetAvailableTransitions request (empty, see [`GetStateRequest`]); also the
/// type of `~/get_transition_graph`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableTransitionsRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl Message for GetAvailableTransitionsRequest {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableTransitionsResponse {
    pub available_transitions: Vec<TransitionDescription>,
}
impl Message for GetAvailableTransitionsResponse {}
