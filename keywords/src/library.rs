//! The keyword registry: what each keyword is called, what it takes, what it
//! returns, and the code that runs it.
//!
//! A keyword is declared once with [`Keyword::new`]; the remote protocol's
//! `get_library_information`, the JSON-RPC methods, the `keywords` listing
//! and libdoc all read that one declaration. Binding follows Robot
//! Framework's rules, because JSON-RPC callers get no client-side checking
//! and Robot never fills in defaults itself.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::access::Access;
pub use crate::error::{KeywordError, KeywordResult};
use crate::state::Namespace;
use crate::value::{display_plain, python_float, Type, Value};
use crate::Services;

/// How a parameter may be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// By position or by name.
    Positional,
    /// Only by name (after `*` in Robot's spec).
    NamedOnly,
    /// Any further `name=value` pairs (`**kwargs`).
    FreeNamed,
}

/// One parameter of a keyword.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub ty: Type,
    /// `None`: required. `Some(Value::None)`: optional, defaulting to None.
    pub default: Option<Value>,
    /// The default converted to the type, once when declared rather than
    /// on every call that leaves it out (`None` where it does not convert:
    /// that call then fails as it would).
    bound_default: Option<Value>,
}

impl Param {
    pub fn required(name: &'static str, ty: Type) -> Param {
        Param {
            name,
            kind: ParamKind::Positional,
            ty,
            default: None,
            bound_default: None,
        }
    }

    pub fn optional(name: &'static str, ty: Type, default: impl Into<Value>) -> Param {
        let default = default.into();
        Param {
            bound_default: ty.convert(name, default.clone()).ok(),
            default: Some(default),
            ..Param::required(name, ty)
        }
    }

    /// A parameter that can only be given as `name=value`.
    pub fn named(name: &'static str, ty: Type, default: impl Into<Value>) -> Param {
        Param {
            kind: ParamKind::NamedOnly,
            ..Param::optional(name, ty, default)
        }
    }

    /// A parameter that must be given, and only as `name=value`.
    pub fn named_required(name: &'static str, ty: Type) -> Param {
        Param {
            kind: ParamKind::NamedOnly,
            ..Param::required(name, ty)
        }
    }

    pub fn free_named(name: &'static str) -> Param {
        Param {
            name,
            kind: ParamKind::FreeNamed,
            ty: Type::Any,
            default: None,
            bound_default: None,
        }
    }

    /// This parameter in Robot's argument spec: `"name"`, `"name=default"`
    /// for string defaults, `["name", default]` for typed ones, `"**name"`.
    pub fn robot_spec(&self) -> Value {
        match (&self.kind, &self.default) {
            (ParamKind::FreeNamed, _) => Value::Str(format!("**{}", self.name)),
            (_, None) => Value::str(self.name),
            (_, Some(Value::Str(s))) => Value::Str(format!("{}={s}", self.name)),
            (_, Some(v)) => Value::List(vec![Value::str(self.name), v.clone()]),
        }
    }
}

type Handler = Arc<dyn Fn(Call) -> BoxFuture<'static, KeywordResult> + Send + Sync>;

/// One keyword: its declaration and the code behind it.
#[derive(Clone)]
pub struct Keyword {
    pub name: &'static str,
    pub params: Vec<Param>,
    pub returns: Type,
    pub doc: &'static str,
    pub tags: Vec<&'static str>,
    handler: Handler,
}

impl Keyword {
    /// Starts a declaration; the handler defaults to returning None.
    pub fn new(name: &'static str) -> Keyword {
        Keyword {
            name,
            params: Vec::new(),
            returns: Type::None,
            doc: "",
            tags: Vec::new(),
            handler: Arc::new(|_| Box::pin(async { Ok(Value::None) })),
        }
    }

    pub fn param(mut self, param: Param) -> Keyword {
        self.params.push(param);
        self
    }

    pub fn returns(mut self, ty: Type) -> Keyword {
        self.returns = ty;
        self
    }

    pub fn doc(mut self, doc: &'static str) -> Keyword {
        self.doc = doc;
        self
    }

    pub fn tags(mut self, tags: &[&'static str]) -> Keyword {
        self.tags = tags.to_vec();
        self
    }

    pub fn handler<F, Fut>(mut self, f: F) -> Keyword
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = KeywordResult> + Send + 'static,
    {
        self.handler = Arc::new(move |call| Box::pin(f(call)));
        self
    }

    /// Robot's argument spec, with `*` before the first named-only one.
    pub fn robot_args(&self) -> Vec<Value> {
        let mut spec = Vec::new();
        let mut star_written = false;
        for p in &self.params {
            if p.kind == ParamKind::NamedOnly && !star_written {
                spec.push(Value::str("*"));
                star_written = true;
            }
            spec.push(p.robot_spec());
        }
        spec
    }

    /// Argument types by name, plus `return`.
    pub fn robot_types(&self) -> Value {
        let mut types: BTreeMap<String, Value> = self
            .params
            .iter()
            .filter(|p| p.ty != Type::Any)
            .map(|p| (p.name.to_owned(), Value::Str(p.ty.robot_name())))
            .collect();
        types.insert("return".into(), Value::Str(self.returns.robot_name()));
        Value::Dict(types)
    }

    /// Binds positional and named values to the parameters as Robot would:
    /// defaults applied, `""` taken as None for optional-None parameters,
    /// values converted to the declared types.
    pub fn bind(
        &self,
        positional: Vec<Value>,
        named: Vec<(String, Value)>,
    ) -> Result<Args, KeywordError> {
        let fail = |msg: String| Err(KeywordError::value_error(msg));
        let given_positional = positional.len();
        if given_positional
            > self
                .params
                .iter()
                .filter(|p| p.kind == ParamKind::Positional)
                .count()
        {
            return fail(self.count_error(given_positional));
        }
        // Named values first checked in the order given, as Robot does:
        // a name given twice (by place or by name), or unknown.
        let declared = |name: &str| {
            self.params
                .iter()
                .position(|p| p.kind != ParamKind::FreeNamed && p.name == name)
        };
        let free = self.params.iter().any(|p| p.kind == ParamKind::FreeNamed);
        for (j, (name, _)) in named.iter().enumerate() {
            match declared(name) {
                Some(i)
                    if self.by_place(i, given_positional)
                        || named[..j].iter().any(|(n, _)| n == name) =>
                {
                    return fail(format!(
                        "Keyword '{}' got multiple values for argument '{}'.",
                        self.name, self.params[i].name
                    ));
                }
                Some(_) => {}
                None if free => {}
                None => {
                    return fail(format!(
                        "Keyword '{}' got unexpected named argument '{name}'.",
                        self.name
                    ));
                }
            }
        }
        // Then each parameter's value, from its place or its name, without
        // a table of what was given (this runs on every call).
        let named_given = !named.is_empty();
        let mut named = named;
        let mut positional = positional.into_iter();
        let mut bound = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let given = match p.kind {
                ParamKind::FreeNamed => continue,
                ParamKind::Positional => positional.next(),
                ParamKind::NamedOnly => None,
            }
            .or_else(|| {
                let (_, value) = named.iter_mut().find(|(name, _)| name == p.name)?;
                Some(std::mem::replace(value, Value::None))
            });
            let value = match (given, &p.default) {
                // Robot sends None as "", so "" means "not given" for a None default.
                (Some(Value::Str(s)), Some(Value::None)) if s.is_empty() => Value::None,
                (Some(v), _) => v,
                (None, Some(default)) => match &p.bound_default {
                    Some(converted) => {
                        bound.push((p.name, converted.clone()));
                        continue;
                    }
                    None => default.clone(),
                },
                (None, None) if p.kind == ParamKind::NamedOnly => {
                    return fail(format!(
                        "Keyword '{}' missing named-only argument '{}'.",
                        self.name, p.name
                    ));
                }
                (None, None) if !named_given => return fail(self.count_error(given_positional)),
                (None, None) => {
                    return fail(format!(
                        "Keyword '{}' missing value for argument '{}'.",
                        self.name, p.name
                    ));
                }
            };
            let converted =
                p.ty.convert(p.name, value)
                    .map_err(KeywordError::value_error)?;
            bound.push((p.name, converted));
        }
        // Without a `**kwargs`, every named value was a declared one.
        let extra = match free {
            true => named
                .into_iter()
                .filter(|(name, _)| declared(name).is_none())
                .collect(),
            false => BTreeMap::new(),
        };
        Ok(Args { bound, extra })
    }

    /// Whether parameter `i` took one of the `given` positional values.
    fn by_place(&self, i: usize, given: usize) -> bool {
        self.params[i].kind == ParamKind::Positional
            && self.params[..i]
                .iter()
                .filter(|p| p.kind == ParamKind::Positional)
                .count()
                < given
    }

    fn count_error(&self, given: usize) -> String {
        let positional = self
            .params
            .iter()
            .filter(|p| p.kind == ParamKind::Positional);
        let max = positional.clone().count();
        let min = positional.filter(|p| p.default.is_none()).count();
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = if min == max {
            format!("{min} {}", plural(min))
        } else {
            format!("{min} to {max} {}", plural(max))
        };
        format!("Keyword '{}' expected {expected}, got {given}.", self.name)
    }
}

impl fmt::Debug for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyword")
            .field("name", &self.name)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The arguments of one call, bound and converted.
#[derive(Debug, Default)]
pub struct Args {
    /// Every declared parameter's value, in declaration order (a handful:
    /// found by a look at each).
    bound: Vec<(&'static str, Value)>,
    extra: BTreeMap<String, Value>,
}

impl Args {
    /// The value of a declared parameter (its default when not given).
    pub fn get(&self, name: &str) -> &Value {
        self.bound
            .iter()
            .find(|(bound, _)| *bound == name)
            .map_or(&Value::None, |(_, value)| value)
    }

    /// A declared string parameter; None when it is None or empty.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).as_str().filter(|s| !s.is_empty())
    }

    pub fn int(&self, name: &str) -> Option<i128> {
        match self.get(name) {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A declared boolean parameter; false when it is None.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Value::Bool(true))
    }

    /// A declared number of seconds (int or float), if given, checked at
    /// the door: not a number within `0..=max` (NaN, infinity, negative,
    /// too large) fails with `ValueError: NAME must be between 0 and MAX
    /// seconds, got X`, X as Python prints it. Every seconds argument is
    /// read through here, so none reaches a `Duration` or a comparison
    /// unchecked.
    pub fn seconds(&self, name: &str, max: f64) -> Result<Option<f64>, KeywordError> {
        let seconds = match self.get(name) {
            Value::Int(i) => *i as f64,
            Value::Float(x) => *x,
            _ => return Ok(None),
        };
        if (0.0..=max).contains(&seconds) {
            return Ok(Some(seconds));
        }
        Err(KeywordError::value_error(format!(
            "{name} must be between 0 and {} seconds, got {}",
            whole_or_python(max),
            display_plain(self.get(name))
        )))
    }

    /// The `**kwargs` the call passed beyond the declared parameters.
    pub fn extra(&self) -> &BTreeMap<String, Value> {
        &self.extra
    }
}

/// Lines a keyword logs, sent back as the remote result's `output`.
#[derive(Clone, Debug)]
pub struct Output(Arc<Mutex<String>>);

thread_local! {
    /// The output of a call that finished on this thread, emptied, for
    /// the next call's [`Output::default`] ([`Output::outcome`] leaves it
    /// here when nothing else holds it): one allocation and one free
    /// fewer per call.
    static SPARE_OUTPUT: Cell<Option<Arc<Mutex<String>>>> = const { Cell::new(None) };
}

impl Default for Output {
    fn default() -> Output {
        Output(SPARE_OUTPUT.with(Cell::take).unwrap_or_default())
    }
}

impl Output {
    fn push(&self, level: &str, message: &str) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("*{level}* {message}"));
    }

    pub fn info(&self, message: &str) {
        self.push("INFO", message);
    }

    pub fn warn(&self, message: &str) {
        self.push("WARN", message);
    }

    pub fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Everything a handler gets: its arguments, the caller's namespace and
/// access (ask it before using a vault or another named resource), the
/// shared services, and where to log.
pub struct Call {
    pub args: Args,
    pub access: Access,
    pub services: Arc<Services>,
    pub output: Output,
    /// When every wait of this call ends at the latest.
    pub deadline: tokio::time::Instant,
}

impl Call {
    /// The namespace's state: the access's (one handle, not a second
    /// `Arc` clone per call of the namespace every call shares).
    pub fn ns(&self) -> &Arc<Namespace> {
        self.access.namespace()
    }

    /// Waits for `wait`, but no longer than the call's deadline and never
    /// past the server's stop: a keyword waits only through this.
    pub async fn wait<T>(
        &self,
        wait: impl std::future::Future<Output = T>,
    ) -> Result<T, KeywordError> {
        crate::stopping::bounded(&self.services.stopping, self.deadline, wait).await
    }
}

impl Call {
    /// A keyword's wait limit `name`, capped by the server's `--max-wait`:
    /// every wait a keyword makes is bounded by it.
    pub fn timeout(&self, name: &str) -> Result<Option<Duration>, KeywordError> {
        let max = self.services.max_wait.as_secs_f64();
        Ok(self.args.seconds(name, max)?.map(Duration::from_secs_f64))
    }
}

/// A bound as people write it: `900`, not `900.0`.
fn whole_or_python(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        python_float(x)
    }
}

/// The result of running a keyword, as the remote protocol reports it.
#[derive(Debug)]
pub struct Outcome {
    pub result: KeywordResult,
    pub output: String,
}

/// All keywords, looked up the way Robot matches names: ignoring case,
/// spaces and underscores.
pub struct Library {
    keywords: Vec<Keyword>,
    /// Each keyword by the name it is listed with, which is what Robot
    /// sends: found without allocating. foldhash rather than SipHash (a
    /// third of the lookup's cost): the keys are fixed at start-up, so a
    /// client's names cannot grow a bucket.
    exact: foldhash::HashMap<&'static str, usize>,
    /// Each keyword by its normalised name, for every other spelling.
    index: HashMap<String, usize>,
    services: Arc<Services>,
}

/// Names longer than this are cut where they are echoed back.
const SHOWN_NAME_BYTES: usize = 64;

/// A keyword or method name as errors and logs show it: whole when short,
/// else its first 64 bytes and a marker, so a 3 MB name sent by a client
/// is not echoed back whole.
pub fn shown_name(name: &str) -> Cow<'_, str> {
    if name.len() <= SHOWN_NAME_BYTES {
        return Cow::Borrowed(name);
    }
    let mut end = SHOWN_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes, cut)", &name[..end], name.len()))
}

/// Robot's keyword name normalisation.
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Library {
    pub fn new(keywords: Vec<Keyword>, services: Arc<Services>) -> Library {
        let index = keywords
            .iter()
            .enumerate()
            .map(|(i, k)| (normalize_name(k.name), i))
            .collect();
        let exact = keywords
            .iter()
            .enumerate()
            .map(|(i, k)| (k.name, i))
            .collect();
        Library {
            keywords,
            exact,
            index,
            services,
        }
    }

    pub fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The keyword `name` names, matched as Robot matches names.
    pub fn keyword(&self, name: &str) -> Option<&Keyword> {
        self.keyword_index(name).map(|i| &self.keywords[i])
    }

    /// Where in [`Library::keywords`] the keyword `name` names is.
    pub fn keyword_index(&self, name: &str) -> Option<usize> {
        match self.exact.get(name) {
            Some(&i) => Some(i),
            None => self.index.get(&normalize_name(name)).copied(),
        }
    }

    /// Binds the arguments and runs the keyword in the namespace the
    /// gate opened for the caller.
    pub async fn run(
        &self,
        access: Access,
        name: &str,
        positional: Vec<Value>,
        named: Vec<(String, Value)>,
    ) -> Outcome {
        let now = tokio::time::Instant::now();
        match self.start(access, name, self.keyword(name), positional, named, now) {
            Started::Running(running) => {
                let result = running.future.await;
                running.output.outcome(result)
            }
            Started::Done(outcome) => outcome,
        }
    }

    /// [`Library::run`] up to the handler's future, for a caller that
    /// polls or spawns that future itself (the server, which must not let
    /// a client hanging up cancel a keyword half-way) and has already
    /// looked `name` up (`keyword`) and read the clock (`now`: the call's
    /// waits end `--max-wait` after it).
    pub fn start(
        &self,
        access: Access,
        name: &str,
        keyword: Option<&Keyword>,
        positional: Vec<Value>,
        named: Vec<(String, Value)>,
        now: tokio::time::Instant,
    ) -> Started {
        let Some(keyword) = keyword else {
            return Started::Done(Outcome {
                result: Err(KeywordError::plain(format!(
                    "No keyword with name '{}' found.",
                    shown_name(name)
                ))),
                output: String::new(),
            });
        };
        let args = match keyword.bind(positional, named) {
            Ok(args) => args,
            Err(e) => {
                return Started::Done(Outcome {
                    result: Err(e),
                    output: String::new(),
                })
            }
        };
        let output = Output::default();
        let call = Call {
            args,
            access,
            services: self.services.clone(),
            output: output.clone(),
            deadline: now + self.services.max_wait + crate::stopping::DEADLINE_MARGIN,
        };
        Started::Running(Running {
            future: (keyword.handler)(call),
            output,
        })
    }
}

/// What [`Library::start`] gives: a keyword running, or its outcome when
/// it could not start (unknown name, arguments that do not bind).
pub enum Started {
    Running(Running),
    Done(Outcome),
}

/// A keyword's handler future and where it logs; the output is read
/// once the future is done ([`Output::outcome`]).
pub struct Running {
    pub future: BoxFuture<'static, KeywordResult>,
    pub output: Output,
}

impl Output {
    /// The outcome of a call whose handler finished with `result`. The
    /// output, emptied, is kept for the thread's next call when this was
    /// its last holder (a handler may have handed a clone to a task that
    /// goes on).
    pub fn outcome(self, result: KeywordResult) -> Outcome {
        let output = self.take();
        let Output(shared) = self;
        if Arc::strong_count(&shared) == 1 && !shared.is_poisoned() {
            SPARE_OUTPUT.with(|spare| spare.set(Some(shared)));
        }
        Outcome { result, output }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Keyword {
        Keyword::new("Get Counter Based OTP")
            .param(Param::required("counter", Type::BigInt))
            .param(Param::optional(
                "otp_passcode",
                Type::optional(Type::Str),
                Value::None,
            ))
            .param(Param::named("digits", Type::Int, 6i64))
    }

    fn err(r: Result<Args, KeywordError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn spec_marks_named_only_and_typed_defaults() {
        let spec = sample().robot_args();
        assert_eq!(
            spec,
            vec![
                Value::str("counter"),
                Value::list([Value::str("otp_passcode"), Value::None]),
                Value::str("*"),
                Value::list([Value::str("digits"), Value::Int(6)]),
            ]
        );
    }

    #[test]
    fn binds_positional_named_and_defaults() {
        let args = sample()
            .bind(
                vec![Value::str("5")],
                vec![("digits".into(), Value::str("8"))],
            )
            .unwrap();
        assert_eq!(args.int("counter"), Some(5));
        assert_eq!(args.int("digits"), Some(8));
        assert_eq!(args.get("otp_passcode"), &Value::None);
    }

    #[test]
    fn defaults_are_bound_converted_and_a_bad_one_fails_each_call() {
        // Declared as text, bound as the declared type, as a value given
        // would be; one that does not convert fails the call that uses it.
        let keyword = Keyword::new("K")
            .param(Param::optional("count", Type::Int, "7"))
            .param(Param::named("flag", Type::Bool, "yes"))
            .param(Param::named("broken", Type::Int, "seven"));
        let bound = |named: Vec<(String, Value)>| keyword.bind(vec![], named);
        let args = bound(vec![("broken".into(), Value::Int(1))]).unwrap();
        assert_eq!(args.get("count"), &Value::Int(7));
        assert_eq!(args.get("flag"), &Value::Bool(true));
        assert_eq!(
            err(bound(vec![])),
            "ValueError: Argument 'broken' got value 'seven' that cannot be converted to integer."
        );
    }

    #[test]
    fn a_finished_calls_output_is_reused_empty_unless_still_held() {
        // The next call on this thread gets the same output, emptied.
        let output = Output::default();
        output.info("the first call's line");
        let first = Arc::downgrade(&output.0);
        let outcome = output.outcome(Ok(Value::None));
        assert_eq!(outcome.output, "*INFO* the first call's line");
        let kept = first.upgrade().expect("kept for the next call");
        drop(kept);
        let next = Output::default();
        assert!(std::ptr::eq(Arc::as_ptr(&next.0), first.as_ptr()));
        assert_eq!(next.take(), "");
        // One still held elsewhere (a task a handler started) is left to
        // its holder: the call after gets another.
        let held = next.clone();
        let _ = next.outcome(Ok(Value::None));
        let after = Output::default();
        assert!(!Arc::ptr_eq(&after.0, &held.0));
        held.info("still writing");
        assert_eq!(after.take(), "");
    }

    #[test]
    fn empty_string_is_none_for_optional() {
        let args = sample()
            .bind(vec![Value::Int(1), Value::str("")], vec![])
            .unwrap();
        assert_eq!(args.get("otp_passcode"), &Value::None);
    }

    #[test]
    fn wrong_counts_and_names_fail_like_robot() {
        let k = sample();
        assert_eq!(
            err(k.bind(vec![], vec![])),
            "ValueError: Keyword 'Get Counter Based OTP' expected 1 to 2 arguments, got 0."
        );
        assert_eq!(
            err(k.bind(vec![Value::Int(1); 3], vec![])),
            "ValueError: Keyword 'Get Counter Based OTP' expected 1 to 2 arguments, got 3."
        );
        assert_eq!(
            err(k.bind(vec![Value::Int(1)], vec![("counter".into(), Value::Int(2))])),
            "ValueError: Keyword 'Get Counter Based OTP' got multiple values for argument 'counter'."
        );
        assert_eq!(
            err(k.bind(vec![Value::Int(1)], vec![("bogus".into(), Value::Int(2))])),
            "ValueError: Keyword 'Get Counter Based OTP' got unexpected named argument 'bogus'."
        );
        assert_eq!(
            err(k.bind(vec![], vec![("digits".into(), Value::Int(8))])),
            "ValueError: Keyword 'Get Counter Based OTP' missing value for argument 'counter'."
        );
        assert_eq!(
            err(k.bind(vec![Value::str("x")], vec![])),
            "ValueError: Argument 'counter' got value 'x' that cannot be converted to integer."
        );
    }

    #[test]
    fn named_values_are_checked_in_the_order_given() {
        // As Robot reports them: the first named value at fault, whether
        // unknown or given twice, before any missing or unconvertible one.
        let k = sample();
        let named = |pairs: &[(&str, i64)]| {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), Value::Int(*v as i128)))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            err(k.bind(vec![Value::Int(1)], named(&[("bogus", 1), ("counter", 2)]))),
            "ValueError: Keyword 'Get Counter Based OTP' got unexpected named argument 'bogus'."
        );
        assert_eq!(
            err(k.bind(vec![Value::Int(1)], named(&[("counter", 2), ("bogus", 1)]))),
            "ValueError: Keyword 'Get Counter Based OTP' got multiple values for argument 'counter'."
        );
        assert_eq!(
            err(k.bind(vec![], named(&[("digits", 7), ("digits", 8)]))),
            "ValueError: Keyword 'Get Counter Based OTP' got multiple values for argument 'digits'."
        );
        // A second positional slot taken by place and by name.
        assert_eq!(
            err(k.bind(
                vec![Value::Int(1), Value::str("x")],
                named(&[("otp_passcode", 2)])
            )),
            "ValueError: Keyword 'Get Counter Based OTP' got multiple values for argument 'otp_passcode'."
        );
        // Given by name only, a positional parameter binds.
        let args = k
            .bind(vec![], named(&[("otp_passcode", 3), ("counter", 9)]))
            .unwrap();
        assert_eq!(args.int("counter"), Some(9));
        assert_eq!(args.get("otp_passcode"), &Value::str("3"));
    }

    #[test]
    fn free_named_collects_the_rest() {
        let k = Keyword::new("Generate OAuth URL")
            .param(Param::required("auth_url", Type::Str))
            .param(Param::free_named("kwargs"));
        let args = k
            .bind(
                vec![Value::str("https://x")],
                vec![("prompt".into(), Value::str("consent"))],
            )
            .unwrap();
        assert_eq!(args.extra().get("prompt"), Some(&Value::str("consent")));
        assert_eq!(
            k.robot_args(),
            vec![Value::str("auth_url"), Value::str("**kwargs")]
        );
    }

    #[test]
    fn seconds_are_checked_at_the_door() {
        let k = Keyword::new("Wait For OAuth Callback").param(Param::optional(
            "timeout",
            Type::optional(Type::Float),
            Value::None,
        ));
        let seconds = |given: &str| {
            k.bind(vec![Value::str(given)], vec![])
                .unwrap()
                .seconds("timeout", 900.0)
        };
        assert_eq!(seconds("0"), Ok(Some(0.0)));
        assert_eq!(seconds("900"), Ok(Some(900.0)));
        assert_eq!(seconds(""), Ok(None));
        // Each number as Python prints float(x), RPA.MFA's users' language.
        for (given, shown) in [
            ("inf", "inf"),
            ("-inf", "-inf"),
            ("nan", "nan"),
            ("-1", "-1.0"),
            ("900.5", "900.5"),
            ("1e19", "1e+19"),
            ("1e20", "1e+20"),
            ("1e9", "1000000000.0"),
        ] {
            assert_eq!(
                seconds(given).unwrap_err().to_string(),
                format!("ValueError: timeout must be between 0 and 900 seconds, got {shown}"),
                "{given}"
            );
        }
    }

    #[test]
    fn error_texts_escape_control_characters() {
        let e = KeywordError::value_error("got 'a\u{1}b\rc'\nnext");
        assert_eq!(e.to_string(), "ValueError: got 'a\\u{1}b\\u{d}c'\nnext");
    }

    #[test]
    fn long_names_are_shown_cut() {
        assert_eq!(shown_name("Get Time Based OTP"), "Get Time Based OTP");
        let exact = "k".repeat(SHOWN_NAME_BYTES);
        assert_eq!(shown_name(&exact), exact);
        let long = format!("{}é{}", "k".repeat(63), "x".repeat(100));
        assert_eq!(
            shown_name(&long),
            format!("{}… (165 bytes, cut)", "k".repeat(63)),
            "cut on a character boundary"
        );
    }

    #[test]
    fn names_match_like_robot() {
        assert_eq!(
            normalize_name("Get Time_Based  otp"),
            normalize_name("get time based OTP")
        );
        let library = Library::new(
            vec![Keyword::new("Set Time Based OTP"), sample()],
            Arc::new(Services::offline()),
        );
        for name in [
            "Get Counter Based OTP",
            "get_counter_based_otp",
            "GETCOUNTER BASED  otp",
        ] {
            let found = library.keyword(name).map(|k| k.name);
            assert_eq!(found, Some("Get Counter Based OTP"), "{name}");
        }
        assert!(library.keyword("Get Counter Based").is_none());
        assert!(library.keyword("").is_none());
    }
}
