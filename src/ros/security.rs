//! ROS 2 security (SROS2) as rcl reads it from the environment: `ROS_SECURITY_ENABLE`,
//! `ROS_SECURITY_STRATEGY`, `ROS_SECURITY_KEYSTORE` and `ROS_SECURITY_ENCLAVE_OVERRIDE`.
//!
//! This build's DDS stack runs without DDS Security, so it cannot use an enclave's keys. Under `Enforce` the
//! node refuses to start, with one line saying why, rather than talk in the clear on a domain whose owner
//! asked for authenticated, encrypted traffic; under `Permissive` it starts unsecured and says so once, as
//! rcl does when an enclave has no keys.

use super::error::PublishError;

/// What the environment asks for, read the way rcl reads it (the values are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityRequest {
    pub enforce: bool,
    pub keystore: Option<String>,
    pub enclave: String,
}

impl SecurityRequest {
    /// None when security is not enabled (`ROS_SECURITY_ENABLE` other than `true`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<SecurityRequest> {
        if get("ROS_SECURITY_ENABLE").as_deref() != Some("true") {
            return None;
        }
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        Some(SecurityRequest {
            enforce: get("ROS_SECURITY_STRATEGY").as_deref() == Some("Enforce"),
            keystore: nonempty("ROS_SECURITY_KEYSTORE"),
            enclave: nonempty("ROS_SECURITY_ENCLAVE_OVERRIDE").unwrap_or_else(|| "/".to_owned()),
        })
    }

    fn enclave_dir(&self) -> String {
        match &self.keystore {
            Some(k) => format!("{}/enclaves{}", k.trim_end_matches('/'), self.enclave),
            None => format!("enclave {} (ROS_SECURITY_KEYSTORE is not set)", self.enclave),
        }
    }
}

/// Ok(None): no security asked for. Ok(Some(warning)): permissive, start unsecured and log the warning.
/// Err: enforce, refuse to start.
pub fn check(request: Option<&SecurityRequest>) -> Result<Option<String>, PublishError> {
    let Some(req) = request else { return Ok(None) };
    let why = "this build's DDS stack (ros2-client without its `security` feature) has no DDS Security";
    if req.enforce {
        return Err(PublishError::Security(format!(
            "ROS_SECURITY_ENABLE=true with ROS_SECURITY_STRATEGY=Enforce, but {why}, so it cannot use the keys in \
             {}; refusing to start rather than publish unsecured (unset ROS_SECURITY_ENABLE, or set \
             ROS_SECURITY_STRATEGY=Permissive to run unsecured on a trusted network)",
            req.enclave_dir()
        )));
    }
    Ok(Some(format!(
        "ROS_SECURITY_ENABLE=true (Permissive): {why}; running UNSECURED — anyone on ROS_DOMAIN_ID can command this \
         node and read its outputs (keys in {} are not used)",
        req.enclave_dir()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn read_as_rcl_reads_it() {
        assert_eq!(SecurityRequest::from_env(env(&[])), None);
        assert_eq!(SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "True")])), None, "case-sensitive");
        let req = SecurityRequest::from_env(env(&[
            ("ROS_SECURITY_ENABLE", "true"),
            ("ROS_SECURITY_STRATEGY", "Enforce"),
            ("ROS_SECURITY_KEYSTORE", "/keys/"),
            ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/robot/seg"),
        ]))
        .unwrap();
        assert!(req.enforce);
        let err = check(Some(&req)).unwrap_err().to_string();
        assert!(err.contains("/keys/enclaves/robot/seg") && err.contains("refusing to start"), "{err}");
        let permissive = SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "true")])).unwrap();
        assert!(!permissive.enforce && permissive.enclave == "/");
        assert!(check(Some(&permissive)).unwrap().unwrap().contains("UNSECURED"));
        assert_eq!(check(None).unwrap(), None);
    }
}
