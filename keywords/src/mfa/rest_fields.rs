//! How the `rest` provider finds its way through an in-house service's
//! JSON: dotted field paths (`result.status`, `data.items.0.id`) read from
//! an answer and written into a request body, path templates with
//! `{identity}` and `{id}`, and answer statuses sorted into approved,
//! denied and pending by the configured values.

use serde_json::{Map, Value as Json};

/// A dotted path into JSON. Each part names an object member; a part made
/// of digits also indexes an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Parses `a.b.c`; empty parts (`a..b`, a leading dot) are refused.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let parts: Vec<String> = text.split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) {
            return Err(format!(
                "'{text}' is not a field path (dotted names such as result.status)"
            ));
        }
        Ok(FieldPath(parts))
    }

    /// The value at this path in `json`, if there is one (not `null`).
    pub fn get<'a>(&self, json: &'a Json) -> Option<&'a Json> {
        let mut node = json;
        for part in &self.0 {
            node = match node {
                Json::Object(members) => members.get(part)?,
                Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!node.is_null()).then_some(node)
    }

    /// Sets `value` at this path in `body`, making the objects on the way
    /// (a body is built only from paths, so every node is an object).
    pub fn set(&self, body: &mut Map<String, Json>, value: Json) {
        let (last, parents) = self.0.split_last().expect("parse refuses empty paths");
        let mut node = body;
        for part in parents {
            let entry = node
                .entry(part.clone())
                .or_insert_with(|| Json::Object(Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(Map::new());
            }
            node = entry.as_object_mut().expect("made an object above");
        }
        node.insert(last.clone(), value);
    }

    /// The path as configured, for messages and query parameter names.
    pub fn shown(&self) -> String {
        self.0.join(".")
    }
}

/// A scalar as the configured status values are written: strings as they
/// are, `true`/`false`, numbers in JSON form. Objects and arrays have no
/// text (they are never a status).
pub fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a status value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Denied,
    Pending,
}

/// The configured status values of each verdict, compared exactly after
/// trimming (services differ in case: `APPROVED` is listed if meant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statuses {
    pub approved: Vec<String>,
    pub denied: Vec<String>,
    pub pending: Vec<String>,
}

impl Statuses {
    /// The verdict `status` stands for, or `None` when it is none of the
    /// configured values.
    pub fn verdict(&self, status: &str) -> Option<Verdict> {
        let status = status.trim();
        let listed = |values: &[String]| values.iter().any(|v| v == status);
        if listed(&self.approved) {
            Some(Verdict::Approved)
        } else if listed(&self.denied) {
            Some(Verdict::Denied)
        } else if listed(&self.pending) {
            Some(Verdict::Pending)
        } else {
            None
        }
    }

    /// Every configured value, for a message about an unknown one.
    pub fn known(&self) -> String {
        format!(
            "approved {:?}, denied {:?}, pending {:?}",
            self.approved, self.denied, self.pending
        )
    }

    /// Refuses a value listed under two verdicts.
    pub fn check(&self) -> Result<(), String> {
        let lists = [
            ("approved", &self.approved),
            ("denied", &self.denied),
            ("pending", &self.pending),
        ];
        if self.approved.is_empty() || self.denied.is_empty() {
            return Err("approved and denied need at least one status value each".into());
        }
        for (i, (name, values)) in lists.iter().enumerate() {
            for (other, others) in &lists[i + 1..] {
                if let Some(both) = values.iter().find(|v| others.contains(v)) {
                    return Err(format!(
                        "status '{both}' is listed as {name} and as {other}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A request path relative to the provider's url, with `{identity}` and
/// `{id}` (a push's id) filled in; each `/`-separated part is
/// percent-encoded on its own, so an identity cannot reach another path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate(Vec<String>);

impl PathTemplate {
    pub fn parse(text: &str) -> Result<PathTemplate, String> {
        let parts: Vec<String> = text
            .trim_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
            return Err(format!(
                "'{text}' is not a path (no empty, '.' or '..' parts)"
            ));
        }
        Ok(PathTemplate(parts))
    }

    /// `base` with this path appended, placeholders filled in.
    pub fn url(&self, base: &url::Url, identity: &str, id: &str) -> url::Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for part in &self.0 {
                path.push(&part.replace("{identity}", identity).replace("{id}", id));
            }
        }
        url
    }

    /// Whether the template uses `{id}` (the poll must, to find its push).
    pub fn has_id(&self) -> bool {
        self.0.iter().any(|p| p.contains("{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap()
    }

    #[test]
    fn field_paths_read_nested_members_and_array_items() {
        let answer = json!({"result": {"status": "ok", "items": [{"id": 7}], "none": null}});
        assert_eq!(path("result.status").get(&answer), Some(&json!("ok")));
        assert_eq!(path("result.items.0.id").get(&answer), Some(&json!(7)));
        assert_eq!(path("result.items.1.id").get(&answer), None);
        assert_eq!(path("result.status.deeper").get(&answer), None);
        assert_eq!(path("result.none").get(&answer), None, "null is absent");
        assert_eq!(path("missing").get(&json!("not an object")), None);
        for bad in ["", ".a", "a..b", "a."] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn field_paths_build_nested_request_bodies() {
        let mut body = Map::new();
        path("user").set(&mut body, json!("alice"));
        path("auth.otp.value").set(&mut body, json!("123456"));
        path("auth.kind").set(&mut body, json!("totp"));
        assert_eq!(
            Json::Object(body),
            json!({"user": "alice", "auth": {"otp": {"value": "123456"}, "kind": "totp"}})
        );
    }

    #[test]
    fn statuses_are_compared_as_configured_text() {
        let statuses = Statuses {
            approved: vec!["approved".into(), "true".into()],
            denied: vec!["denied".into(), "false".into(), "0".into()],
            pending: vec!["pending".into()],
        };
        let verdict = |v: Json| statuses.verdict(&scalar_text(&v).unwrap());
        assert_eq!(verdict(json!("approved")), Some(Verdict::Approved));
        assert_eq!(verdict(json!(true)), Some(Verdict::Approved));
        assert_eq!(verdict(json!(false)), Some(Verdict::Denied));
        assert_eq!(verdict(json!(0)), Some(Verdict::Denied));
        assert_eq!(verdict(json!(" pending ")), Some(Verdict::Pending));
        assert_eq!(verdict(json!("APPROVED")), None, "case is the service's");
        assert_eq!(scalar_text(&json!({"status": "approved"})), None);
        let both = Statuses {
            approved: vec!["ok".into()],
            denied: vec!["no".into()],
            pending: vec!["ok".into()],
        };
        assert_eq!(
            both.check().unwrap_err(),
            "status 'ok' is listed as approved and as pending"
        );
        assert!(statuses.check().is_ok());
    }

    #[test]
    fn path_templates_encode_what_they_fill_in() {
        let base = url::Url::parse("https://mfa.example/api/").unwrap();
        let template = PathTemplate::parse("/users/{identity}/push/{id}").unwrap();
        assert!(template.has_id());
        assert_eq!(
            template.url(&base, "a/../../admin", "tx 1").as_str(),
            "https://mfa.example/api/users/a%2F..%2F..%2Fadmin/push/tx%201"
        );
        assert!(!PathTemplate::parse("otp/verify").unwrap().has_id());
        assert!(PathTemplate::parse("a/../b").is_err());
        assert!(PathTemplate::parse("").is_err());
    }
}
