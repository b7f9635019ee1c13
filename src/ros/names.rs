//! ROS name resolution done by us (ros2-client has no `~` expansion and no remapping): relative
//! names go under the node's namespace, `~/x` under `<ns>/<node>/x`, and `-r from:=to` rules
//! match on fully-qualified names, as rcl does.

use super::ros_args::Remap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NameError {
    #[error("invalid ROS name `{name}`: {reason}")]
    Invalid { name: String, reason: &'static str },
}

/// The node's identity plus its remap rules.
#[derive(Debug, Clone)]
pub struct NameResolver {
    namespace: String,
    node: String,
    remaps: Vec<(String, String)>,
}

impl NameResolver {
    /// `namespace` is absolute ("/" or "/robot1"); node-specific remaps for other nodes are dropped.
    pub fn new(namespace: &str, node: &str, remaps: &[Remap]) -> Result<Self, NameError> {
        check_token(node, node)?;
        let mut r =
            Self { namespace: namespace.trim_end_matches('/').to_owned(), node: node.to_owned(), remaps: Vec::new() };
        for m in remaps.iter().filter(|m| m.node.as_deref().is_none_or(|n| n == node)) {
            let (from, to) = (r.expand(&m.from)?, r.expand(&m.to)?);
            r.remaps.push((from, to));
        }
        Ok(r)
    }

    /// "/" or "/robot1".
    pub fn namespace(&self) -> &str {
        if self.namespace.is_empty() { "/" } else { &self.namespace }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// `/robot1/pixel_sail`.
    pub fn fully_qualified_node(&self) -> String {
        format!("{}/{}", self.namespace, self.node)
    }

    /// Fully-qualified name after expansion and remapping: `image` → `/robot1/image`,
    /// `~/mask` → `/robot1/pixel_sail/mask`, `/diagnostics` stays.
    pub fn resolve(&self, name: &str) -> Result<String, NameError> {
        let expanded = self.expand(name)?;
        // The first matching rule wins (rcl order).
        Ok(self.remaps.iter().find(|(from, _)| *from == expanded).map_or(expanded, |(_, to)| to.clone()))
    }

    /// True when a rule remaps `name` (e.g. `image` was pointed at a camera topic).
    pub fn is_remapped(&self, name: &str) -> bool {
        self.expand(name).is_ok_and(|e| self.remaps.iter().any(|(from, _)| *from == e))
    }

    fn expand(&self, name: &str) -> Result<String, NameError> {
        let full = if let Some(rest) = name.strip_prefix("~/") {
            format!("{}/{}/{}", self.namespace, self.node, rest)
        } else if name == "~" {
            self.fully_qualified_node()
        } else if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("{}/{}", self.namespace, name)
        };
        for token in full.trim_start_matches('/').split('/') {
            check_token(token, name)?;
        }
        Ok(full)
    }
}

fn check_token(token: &str, name: &str) -> Result<(), NameError> {
    let bad = |reason| Err(NameError::Invalid { name: name.to_owned(), reason });
    if token.is_empty() {
        return bad("empty token (double or trailing slash)");
    }
    if !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("only letters, digits, '_' and '/' are allowed");
    }
    if token.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("a token must not start with a digit");
    }
    if token.contains("__") {
        return bad("repeated underscores");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remap(from: &str, to: &str) -> Remap {
        Remap { node: None, from: from.into(), to: to.into() }
    }

    #[test]
    fn expands_relative_private_and_absolute_names() {
        let r = NameResolver::new("/robot1", "pixel_sail", &[]).unwrap();
        assert_eq!(r.resolve("image").unwrap(), "/robot1/image");
        assert_eq!(r.resolve("~/mask/compressed").unwrap(), "/robot1/pixel_sail/mask/compressed");
        assert_eq!(r.resolve("/diagnostics").unwrap(), "/diagnostics");
        let root = NameResolver::new("/", "pixel_sail", &[]).unwrap();
        assert_eq!(root.resolve("image").unwrap(), "/image");
        assert_eq!(root.resolve("~/prompt").unwrap(), "/pixel_sail/prompt");
    }

    #[test]
    fn remaps_match_fully_qualified_names() {
        let rules = [
            remap("image", "/camera/color/image_raw"),
            remap("~/mask", "seg_mask"),
            Remap { node: Some("other".into()), from: "~/prompt".into(), to: "/x".into() },
        ];
        let r = NameResolver::new("/robot1", "seg", &rules).unwrap();
        assert_eq!(r.resolve("image").unwrap(), "/camera/color/image_raw");
        assert!(r.is_remapped("image"));
        assert_eq!(r.resolve("/robot1/image").unwrap(), "/camera/color/image_raw");
        assert_eq!(r.resolve("~/mask").unwrap(), "/robot1/seg_mask");
        assert_eq!(r.resolve("~/prompt").unwrap(), "/robot1/seg/prompt");
    }

    #[test]
    fn rejects_bad_names_with_a_reason() {
        let r = NameResolver::new("/", "n", &[]).unwrap();
        assert!(r.resolve("a//b").is_err());
        assert!(r.resolve("1abc").is_err());
        assert!(NameResolver::new("/", "bad-name", &[]).is_err());
    }
}
