//! `Wait For OTP In Email` and `Wait For Email Message`: wait, bounded,
//! for the first untaken message of a configured mailbox that matches,
//! and hand out its code or the message itself.

use std::collections::HashSet;
use std::time::Duration;

use super::config::{Login, Mailbox};
use super::connect::{self, Credential, Session};
use super::inbox::{self, Taken};
use super::message::{Filters, Pattern};
use crate::code_pattern::CodePattern;
use crate::library::{Call, Keyword, KeywordError, Param};
use crate::value::{Type, Value};

/// How long a wait lasts without `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a look that began before the timeout may still take: a
/// message taken then is handed out, not lost.
const TAKING_GRACE: Duration = Duration::from_secs(30);

/// How far back a message may have arrived without `since`: codes often
/// arrive before the robot starts waiting.
const DEFAULT_LOOKBACK: i64 = 120;

fn params(keyword: Keyword) -> Keyword {
    let optional = |name| Param::named(name, Type::optional(Type::Str), Value::None);
    keyword
        .param(Param::required("mailbox", Type::Str))
        .param(optional("from"))
        .param(optional("subject"))
        .param(optional("pattern"))
        .param(optional("since"))
        .param(Param::named(
            "timeout",
            Type::optional(Type::Float),
            Value::None,
        ))
}

pub fn all() -> Vec<Keyword> {
    vec![
        params(Keyword::new("Wait For OTP In Email"))
            .returns(Type::Str)
            .tags(&["email", "returns-secret"])
            .doc(
                "Waits for a one-time code sent by e-mail to configured mailbox ``mailbox`` \
(``[mailboxes.NAME]`` in the config file, see docs/email.md) and returns it.

The code is taken from the first message, oldest first, that

- arrived (IMAP INTERNALDATE) no earlier than ``since``: a date and time \
(``2026-11-30T10:00:00Z``, ``2026-11-30 10:00:00`` taken as UTC, a Robot \
date) or Unix seconds; default two minutes before the call, because the code \
often arrives before the robot waits;
- comes from a sender whose address or name contains ``from`` and has a \
subject containing ``subject`` (both ignoring case; default any);
- holds a code: by default the first number of 4 to 8 digits standing \
alone (not part of a date, a time, an amount or a word), in the subject or \
else the text; ``pattern`` is a regular expression whose one group is the \
code, e.g. ``code: ([A-Z0-9]{8})``, looked for in the subject, the text, then \
the HTML as sent (where links are);
- no robot took before. A message is taken once, by every server sharing \
the state store, so two robots waiting on one mailbox get different \
messages. Then it is flagged ``\\Seen`` or moved, as the mailbox's ``after`` \
says. HTML-only, quoted-printable and base64 messages are decoded.

It waits with IMAP IDLE when the server offers it, else looks every \
``poll`` seconds, for at most ``timeout`` seconds (default 120, at most the \
server's ``--max-wait``). Fails with ``TimeoutError`` naming the filters, \
``MailboxAuthenticationError`` when the server refused the password or \
token, ``MailboxUnavailableError`` when it could not check them now, \
``ConnectionError``, ``SSLError``, or ``PermissionError`` for a mailbox the \
caller may not use. The code is never logged.

Example:
| ${code} =    `Wait For OTP In Email`    otp-inbox    from=no-reply@bank.example    subject=sign-in
| ${code} =    `Wait For OTP In Email`    otp-inbox    pattern=code: ([A-Z0-9]{8})    timeout=60",
            )
            .handler(|call| async move {
                let taken = wait(&call, false).await?;
                Ok(Value::Str(taken.code))
            }),
        params(Keyword::new("Wait For Email Message"))
            .returns(Type::Dict)
            .tags(&["email", "returns-secret"])
            .doc(
                "Waits for an e-mail in configured mailbox ``mailbox`` and returns it, for \
robots that need more than a code (a magic login link, a reference number).

Takes the same arguments and takes messages the same way as `Wait For OTP \
In Email`, except that without ``pattern`` any message that passes the \
filters is taken. Returns a dictionary: ``subject``, ``sender`` (the \
address), ``sender_name``, ``date`` (the Date header, RFC 3339), ``received`` (IMAP \
INTERNALDATE, RFC 3339), ``message_id``, ``text`` (every text body; an \
HTML-only message turned into text), ``html`` (the HTML body as sent, or \
None) and, with ``pattern``, ``code`` (its group).

Example:
| ${mail} =    `Wait For Email Message`    otp-inbox    subject=Your sign-in link
| ...    pattern=(https://app\\.example\\.com/magic/\\S+)
| Go To    ${mail.code}",
            )
            .handler(|call| async move {
                let with_code = call.args.str("pattern").is_some();
                let taken = wait(&call, true).await?;
                Ok(taken
                    .message
                    .to_value(taken.received, with_code.then_some(taken.code)))
            }),
    ]
}

/// Waits for the first matching message and takes it.
async fn wait(call: &Call, any_message: bool) -> Result<Taken, KeywordError> {
    let mailbox = call.services.mailboxes.for_call(call)?;
    let filters = filters(call, any_message)?;
    let since = since(call)?;
    let timeout = call
        .timeout("timeout")?
        .unwrap_or(DEFAULT_TIMEOUT.min(call.services.max_wait));
    // `timeout` ends the waiting; a message being taken when it passes is
    // still handed out (its mark is set), so the hard bound is later.
    let deadline = tokio::time::Instant::now() + timeout;
    let looked = call
        .wait(tokio::time::timeout(
            timeout + TAKING_GRACE,
            wait_for(call, &mailbox, &filters, since, deadline),
        ))
        .await?;
    match looked.ok().transpose()?.flatten() {
        Some(taken) => {
            call.output.info(&format!(
                "Took the message received {} from mailbox '{}'.",
                taken.received, mailbox.name
            ));
            if let Some(why) = &taken.after_failed {
                // INFO, not WARN: Robot keeps a kept log's keyword whole when
                // it warned, and with it the `${code} = …` line.
                call.output.info(why);
                tracing::warn!(mailbox = %mailbox.name, "{why}");
            }
            Ok(taken)
        }
        None => Err(KeywordError::new(
            "TimeoutError",
            format!(
                "No message in mailbox '{}' (folder '{}') received since {} matched within {} s: {}.",
                mailbox.name,
                mailbox.folder,
                chrono::DateTime::from_timestamp(since, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| since.to_string()),
                timeout.as_secs_f64(),
                filters.describe()
            ),
        )),
    }
}

/// Looks, then waits for a change and looks again, until a message is
/// taken (Some) or `deadline` passes (None).
async fn wait_for(
    call: &Call,
    mailbox: &Mailbox,
    filters: &Filters,
    since: i64,
    deadline: tokio::time::Instant,
) -> Result<Option<Taken>, KeywordError> {
    let credential = credential(call, mailbox).await?;
    let Ok(opened) = tokio::time::timeout_at(deadline, connect::open(mailbox, &credential)).await
    else {
        return Ok(None);
    };
    let mut session = opened?;
    drop(credential);
    let idle = mailbox.idle
        && session
            .capabilities()
            .await
            .map(|c| c.has_str("IDLE"))
            .unwrap_or(false);
    let uid_validity = inbox::select(&mut session, mailbox).await?;
    let namespaces = &call.services.namespaces;
    let mut passed = HashSet::new();
    loop {
        if let Some(taken) = inbox::look(
            &mut session,
            mailbox,
            uid_validity,
            since,
            filters,
            namespaces,
            &mut passed,
        )
        .await?
        {
            // Said in the background: the robot does not wait for it.
            tokio::spawn(logout(session));
            return Ok(Some(taken));
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        if idle {
            inbox::idle(&mut session, mailbox, left).await?;
        } else {
            tokio::time::sleep(mailbox.poll.min(left)).await;
            // A NOOP lets the server report new mail to the selected folder.
            let _ = session.noop().await;
        }
    }
}

/// Says goodbye without making the robot wait for it.
async fn logout(mut session: Session) {
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
}

/// The password from the vault or the token from the auth profile.
async fn credential(call: &Call, mailbox: &Mailbox) -> Result<Credential, KeywordError> {
    match &mailbox.login {
        Login::Password(reference) => {
            let password = call.services.vaults().value(reference).await.map_err(|e| {
                KeywordError::new(
                    "MailboxAuthenticationError",
                    format!(
                        "The password of mailbox '{}' ({reference}) cannot be read: {e}",
                        mailbox.name
                    ),
                )
            })?;
            Ok(Credential::Password(password))
        }
        Login::XOAuth2 { profile } | Login::OAuthBearer { profile } => Ok(Credential::Token(
            crate::oauth::profile::server_token(call, profile).await?,
        )),
    }
}

fn filters(call: &Call, any_message: bool) -> Result<Filters, KeywordError> {
    let lower = |name: &str| call.args.str(name).map(str::to_lowercase);
    let pattern = match call.args.str("pattern") {
        None if any_message => Pattern::Anything,
        pattern => Pattern::Code(CodePattern::new(pattern)?),
    };
    Ok(Filters {
        from: lower("from"),
        subject: lower("subject"),
        pattern,
    })
}

/// `since` as Unix seconds; default two minutes before now.
fn since(call: &Call) -> Result<i64, KeywordError> {
    let now = call.services.clock.now() as i64;
    let bad = |what: &str| {
        KeywordError::value_error(format!(
            "since must be a date and time (2026-11-30T10:00:00Z) or Unix seconds, got {what}."
        ))
    };
    match call.args.get("since") {
        Value::None => Ok(now - DEFAULT_LOOKBACK),
        Value::Int(n) => i64::try_from(*n).map_err(|_| bad(&n.to_string())),
        Value::Float(f) if f.is_finite() => Ok(*f as i64),
        Value::DateTime(d) => naive_utc(&format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.year, d.month, d.day, d.hour, d.minute, d.second
        ))
        .ok_or_else(|| bad("an impossible date")),
        Value::Str(s) if s.trim().is_empty() => Ok(now - DEFAULT_LOOKBACK),
        Value::Str(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                if n.is_finite() {
                    return Ok(n as i64);
                }
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp())
                .ok()
                .or_else(|| naive_utc(s))
                .ok_or_else(|| bad(&format!("'{s}'")))
        }
        other => Err(bad(&format!("{other:?}"))),
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff]` without a zone, taken as UTC.
fn naive_utc(s: &str) -> Option<i64> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            chrono::NaiveDateTime::parse_from_str(s, f)
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, f)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
        })
        .map(|d| d.and_utc().timestamp())
}
