//! ROS 2 security (SROS2) as rcl reads it from the environment: `ROS_SECURITY_ENABLE`,
//! `ROS_SECURITY_STRATEGY`, `ROS_SECURITY_KEYSTORE` and `ROS_SECURITY_ENCLAVE_OVERRIDE`.
//!
//! Built with the `security` feature, the node's DDS stack (ros2-client/RustDDS) runs DDS Security with
//! the enclave's files (`<keystore>/enclaves/<enclave>/`, sros2's names). Without the feature, or when the
//! enclave lacks a file, it cannot: under `Enforce` the node refuses to start, with one line saying why,
//! rather than talk in the clear on a domain whose owner asked for authenticated, encrypted traffic; under
//! `Permissive` it starts unsecured and says so once, as rcl does when an enclave has no keys.

use std::path::{Path, PathBuf};

use super::error::PublishError;

/// The files DDS Security reads from an enclave directory (rmw_dds_common's names).
pub const ENCLAVE_FILES: [&str; 6] =
    ["identity_ca.cert.pem", "cert.pem", "key.pem", "permissions_ca.cert.pem", "governance.p7s", "permissions.p7s"];

/// Whether this build's DDS stack has DDS Security.
pub const BUILT_WITH_DDS_SECURITY: bool = cfg!(feature = "security");

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

    fn enclave_path(&self) -> Option<PathBuf> {
        let keystore = self.keystore.as_ref()?;
        Some(PathBuf::from(format!("{}/enclaves{}", keystore.trim_end_matches('/'), self.enclave)))
    }

    fn enclave_dir(&self) -> String {
        match self.enclave_path() {
            Some(p) => p.display().to_string(),
            None => format!("enclave {} (ROS_SECURITY_KEYSTORE is not set)", self.enclave),
        }
    }
}

/// How the node joins DDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Not asked for.
    Off,
    /// Asked for, permissive, but not possible: start unsecured and log this warning.
    Unsecured(String),
    /// DDS Security with the files in this enclave directory.
    Enclave(PathBuf),
}

/// Decides from the request, whether the build has DDS Security, and which enclave files exist.
/// Err: enforce, and security cannot be had; refuse to start.
pub fn decide(
    request: Option<&SecurityRequest>,
    built_with: bool,
    exists: impl Fn(&Path) -> bool,
) -> Result<Security, PublishError> {
    let Some(req) = request else { return Ok(Security::Off) };
    let why = if !built_with {
        "this build's DDS stack (ros2-client without its `security` feature) has no DDS Security".to_owned()
    } else if let Some(dir) = req.enclave_path() {
        let missing: Vec<&str> = ENCLAVE_FILES.iter().copied().filter(|f| !exists(&dir.join(f))).collect();
        if missing.is_empty() {
            return Ok(Security::Enclave(dir));
        }
        format!("the enclave lacks {}", missing.join(", "))
    } else {
        "ROS_SECURITY_KEYSTORE is not set".to_owned()
    };
    if req.enforce {
        return Err(PublishError::Security(format!(
            "ROS_SECURITY_ENABLE=true with ROS_SECURITY_STRATEGY=Enforce, but {why}, so it cannot use the keys in \
             {}; refusing to start rather than publish unsecured (unset ROS_SECURITY_ENABLE, or set \
             ROS_SECURITY_STRATEGY=Permissive to run unsecured on a trusted network)",
            req.enclave_dir()
        )));
    }
    Ok(Security::Unsecured(format!(
        "ROS_SECURITY_ENABLE=true (Permissive): {why}; running UNSECURED — anyone on ROS_DOMAIN_ID can command this \
         node and read its outputs (keys in {} are not used)",
        req.enclave_dir()
    )))
}

/// [`decide`] for this build and the real file system.
pub fn from_env() -> Result<Security, PublishError> {
    let request = SecurityRequest::from_env(|k| std::env::var(k).ok());
    decide(request.as_ref(), BUILT_WITH_DDS_SECURITY, Path::is_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    const ENFORCE: [(&str, &str); 4] = [
        ("ROS_SECURITY_ENABLE", "true"),
        ("ROS_SECURITY_STRATEGY", "Enforce"),
        ("ROS_SECURITY_KEYSTORE", "/keys/"),
        ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/robot/seg"),
    ];

    #[test]
    fn read_as_rcl_reads_it() {
        assert_eq!(SecurityRequest::from_env(env(&[])), None);
        assert_eq!(SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "True")])), None, "case-sensitive");
        let req = SecurityRequest::from_env(env(&ENFORCE)).unwrap();
        assert!(req.enforce);
        let err = decide(Some(&req), false, |_| true).unwrap_err().to_string();
        assert!(err.contains("/keys/enclaves/robot/seg") && err.contains("refusing to start"), "{err}");
        let permissive = SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "true")])).unwrap();
        assert!(!permissive.enforce && permissive.enclave == "/");
        let Security::Unsecured(w) = decide(Some(&permissive), false, |_| true).unwrap() else { panic!() };
        assert!(w.contains("UNSECURED"), "{w}");
        assert_eq!(decide(None, true, |_| true).unwrap(), Security::Off);
    }

    #[test]
    fn with_dds_security_the_enclave_must_hold_every_file() {
        let req = SecurityRequest::from_env(env(&ENFORCE)).unwrap();
        let dir = PathBuf::from("/keys/enclaves/robot/seg");
        assert_eq!(decide(Some(&req), true, |_| true).unwrap(), Security::Enclave(dir.clone()));
        let err = decide(Some(&req), true, |p| !p.ends_with("permissions.p7s")).unwrap_err().to_string();
        assert!(err.contains("the enclave lacks permissions.p7s") && err.contains("refusing"), "{err}");
        let permissive = SecurityRequest { enforce: false, ..req };
        let Security::Unsecured(w) = decide(Some(&permissive), true, |p| p != dir.join("key.pem")).unwrap() else {
            panic!()
        };
        assert!(w.contains("lacks key.pem") && w.contains("UNSECURED"), "{w}");
        let no_keystore = SecurityRequest { keystore: None, enforce: true, enclave: "/".into() };
        let err = decide(Some(&no_keystore), true, |_| true).unwrap_err().to_string();
        assert!(err.contains("ROS_SECURITY_KEYSTORE is not set"), "{err}");
    }
}
