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

/// Decides from the request, whether the build has DDS Security, and the enclave's files (`read` gives a
/// file's text, None when it cannot be read). Err: enforce, and security cannot be had; refuse to start.
pub fn decide(
    request: Option<&SecurityRequest>,
    built_with: bool,
    read: impl Fn(&Path) -> Option<String>,
) -> Result<Security, PublishError> {
    let Some(req) = request else { return Ok(Security::Off) };
    let why = if !built_with {
        "this build's DDS stack (ros2-client without its `security` feature) has no DDS Security".to_owned()
    } else if let Some(dir) = req.enclave_path() {
        let missing: Vec<&str> = ENCLAVE_FILES.iter().copied().filter(|f| read(&dir.join(f)).is_none()).collect();
        let asks = read(&dir.join("governance.p7s")).map(|g| unsupported_protection(&g)).unwrap_or_default();
        if !missing.is_empty() {
            format!("the enclave lacks {}", missing.join(", "))
        } else if !asks.is_empty() {
            format!(
                "its governance.p7s asks for {}, and this build's DDS Security (RustDDS 0.15.1) cannot carry signed \
                 or encrypted submessages (nothing arrives, not even at a peer of the same keystore; README, \
                 \"ROS 2 security\"); a governance with every protection kind NONE is authenticated and \
                 access-controlled, in the clear",
                asks.join(", ")
            )
        } else {
            return Ok(Security::Enclave(dir));
        }
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

/// The protection a governance document (S/MIME text, its XML in clear) asks for beyond NONE: each
/// `<…_protection_kind>` element whose value is not `NONE`, as `name=VALUE`, once each. Empty when it asks for
/// none, or when no such element is readable (an opaquely signed document: RustDDS's own checks apply).
pub fn unsupported_protection(governance: &str) -> Vec<String> {
    let mut asks: Vec<String> = Vec::new();
    for part in governance.split('<').skip(1) {
        let Some((name, rest)) = part.split_once('>') else { continue };
        if name.starts_with('/') || !name.ends_with("_protection_kind") {
            continue;
        }
        let value = rest.trim();
        let ask = format!("{name}={value}");
        if value != "NONE" && !asks.contains(&ask) {
            asks.push(ask);
        }
    }
    asks
}

/// [`decide`] for this build and the real file system.
pub fn from_env() -> Result<Security, PublishError> {
    let request = SecurityRequest::from_env(|k| std::env::var(k).ok());
    decide(request.as_ref(), BUILT_WITH_DDS_SECURITY, |p| {
        std::fs::read(p).ok().map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    })
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

    /// Every enclave file, with a governance whose protection kinds are `kind`.
    fn files(kind: &'static str) -> impl Fn(&Path) -> Option<String> {
        move |p: &Path| {
            Some(if p.ends_with("governance.p7s") { governance(kind) } else { "-----BEGIN-----".to_owned() })
        }
    }

    /// [`files`] with a NONE governance, but without `absent`.
    fn files_but(absent: &'static str) -> impl Fn(&Path) -> Option<String> {
        move |p: &Path| if p.ends_with(absent) { None } else { files("NONE")(p) }
    }

    fn governance(kind: &str) -> String {
        format!(
            "MIME-Version: 1.0\nContent-Type: multipart/signed\n\n<domain_rule><rtps_protection_kind>{kind}\
             </rtps_protection_kind><topic_rule><data_protection_kind> {kind} </data_protection_kind>\
             <metadata_protection_kind>NONE</metadata_protection_kind></topic_rule><topic_rule>\
             <data_protection_kind>{kind}</data_protection_kind></topic_rule></domain_rule>"
        )
    }

    #[test]
    fn read_as_rcl_reads_it() {
        assert_eq!(SecurityRequest::from_env(env(&[])), None);
        assert_eq!(SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "True")])), None, "case-sensitive");
        let req = SecurityRequest::from_env(env(&ENFORCE)).unwrap();
        assert!(req.enforce);
        let err = decide(Some(&req), false, files("NONE")).unwrap_err().to_string();
        assert!(err.contains("/keys/enclaves/robot/seg") && err.contains("refusing to start"), "{err}");
        let permissive = SecurityRequest::from_env(env(&[("ROS_SECURITY_ENABLE", "true")])).unwrap();
        assert!(!permissive.enforce && permissive.enclave == "/");
        let Security::Unsecured(w) = decide(Some(&permissive), false, files("NONE")).unwrap() else { panic!() };
        assert!(w.contains("UNSECURED"), "{w}");
        assert_eq!(decide(None, true, files("NONE")).unwrap(), Security::Off);
    }

    #[test]
    fn with_dds_security_the_enclave_must_hold_every_file() {
        let req = SecurityRequest::from_env(env(&ENFORCE)).unwrap();
        let dir = PathBuf::from("/keys/enclaves/robot/seg");
        assert_eq!(decide(Some(&req), true, files("NONE")).unwrap(), Security::Enclave(dir.clone()));
        let err = decide(Some(&req), true, files_but("permissions.p7s")).unwrap_err().to_string();
        assert!(err.contains("the enclave lacks permissions.p7s") && err.contains("refusing"), "{err}");
        let permissive = SecurityRequest { enforce: false, ..req };
        let Security::Unsecured(w) = decide(Some(&permissive), true, files_but("key.pem")).unwrap() else { panic!() };
        assert!(w.contains("lacks key.pem") && w.contains("UNSECURED"), "{w}");
        let no_keystore = SecurityRequest { keystore: None, enforce: true, enclave: "/".into() };
        let err = decide(Some(&no_keystore), true, files("NONE")).unwrap_err().to_string();
        assert!(err.contains("ROS_SECURITY_KEYSTORE is not set"), "{err}");
    }

    #[test]
    fn a_governance_asking_for_signing_or_encryption_is_refused_under_enforce() {
        assert!(unsupported_protection(&governance("NONE")).is_empty());
        assert_eq!(
            unsupported_protection(&governance("ENCRYPT")),
            ["rtps_protection_kind=ENCRYPT", "data_protection_kind=ENCRYPT"]
        );
        assert!(unsupported_protection("an opaque signature, no XML in clear").is_empty());
        let req = SecurityRequest::from_env(env(&ENFORCE)).unwrap();
        let err = decide(Some(&req), true, files("SIGN")).unwrap_err().to_string();
        assert!(err.contains("rtps_protection_kind=SIGN") && err.contains("refusing to start"), "{err}");
        let permissive = SecurityRequest { enforce: false, ..req };
        let Security::Unsecured(w) = decide(Some(&permissive), true, files("ENCRYPT")).unwrap() else { panic!() };
        assert!(w.contains("data_protection_kind=ENCRYPT") && w.contains("UNSECURED"), "{w}");
    }
}
