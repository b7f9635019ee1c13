//! Errors of the ROS stage.

use super::names::NameError;
use super::ros_args::RosArgsError;
use crate::config::params::ParamError;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Args(#[from] RosArgsError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("ROS_DOMAIN_ID `{0}` is not a number in 0..=232")]
    DomainId(String),
    #[error("ROS 2 security: {0}")]
    Security(String),
    #[error("ROS 2 (DDS) setup failed while {what}: {reason}")]
    Dds { what: String, reason: String },
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
}

impl PublishError {
    pub fn dds(what: impl Into<String>, reason: impl std::fmt::Debug) -> Self {
        Self::Dds { what: what.into(), reason: format!("{reason:?}") }
    }
}
