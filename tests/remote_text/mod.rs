//! Remote-protocol requests and answers as plain text, written by hand
//! rather than by the codec under test, for the wire tests.

/// An XML-RPC `<string>` value, escaped.
pub fn xml_string(s: &str) -> String {
    format!(
        "<value><string>{}</string></value>",
        s.replace('&', "&amp;").replace('<', "&lt;")
    )
}

/// A `run_keyword(name, [args...])` XML-RPC call.
pub fn run_keyword_xml(name: &str, args: &[&str]) -> String {
    let args: String = args.iter().map(|a| xml_string(a)).collect();
    format!(
        "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>\
         <param>{}</param><param><value><array><data>{args}</data></array></value></param>\
         </params></methodCall>",
        xml_string(name)
    )
}

/// The `<string>` value of a struct member in an XML-RPC response.
pub fn member(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<name>{name}</name>"))?;
    let rest = &xml[start..];
    let value = rest.find("<string>")? + "<string>".len();
    let end = rest[value..].find("</string>")?;
    Some(rest[value..value + end].to_owned())
}

/// `Generate OAuth URL` for a made-up authorization server: starts a flow
/// in the namespace it is sent to, so that `Wait For OAuth Callback` has
/// one to wait for (and waits until its timeout).
pub const GENERATE_OAUTH_URL_XML: &str =
    "<?xml version='1.0'?><methodCall><methodName>run_keyword</methodName><params>\
<param><value><string>Generate OAuth URL</string></value></param>\
<param><value><array><data><value><string>http://127.0.0.1:9/authorize</string></value></data></array></value></param>\
<param><value><struct>\
<member><name>client_id</name><value><string>robot</string></value></member>\
<member><name>redirect_uri</name><value><string>http://127.0.0.1:9/cb</string></value></member>\
<member><name>scope</name><value><string>openid</string></value></member>\
</struct></value></param></params></methodCall>";
