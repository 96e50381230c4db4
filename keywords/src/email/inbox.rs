//! One look into a mailbox's folder: the messages received (IMAP
//! INTERNALDATE) since a moment, oldest first, fetched without marking
//! them read, decoded, filtered, and the first untaken match taken and
//! then flagged `\Seen` or moved. And waiting for the folder to change:
//! IDLE when the server offers it.

use std::collections::HashSet;
use std::time::Duration;

use async_imap::imap_proto::{MailboxDatum, Response, Status};
use futures_util::TryStreamExt;

use super::claim::MessageKey;
use super::config::{After, Mailbox};
use super::connect::{server_text, Session};
use super::message::{Filters, Message};
use crate::state::Namespaces;
use crate::KeywordError;

/// The newest messages looked at in one look: a flood of mail cannot make
/// a look unbounded.
const MAX_CANDIDATES: usize = 200;

/// Messages larger than this are passed over (a code comes in a small one).
const MAX_SIZE: u32 = 2 * 1024 * 1024;

/// The longest IDLE before looking again anyway (RFC 2177 asks clients to
/// re-issue IDLE at least every 29 minutes; a short one also covers a
/// server that does not report every change).
const MAX_IDLE: Duration = Duration::from_secs(60);

/// A message taken from the mailbox.
pub struct Taken {
    pub message: Message,
    /// The code the pattern found ("" for any message).
    pub code: String,
    /// INTERNALDATE as RFC 3339.
    pub received: String,
    /// Why flagging or moving the message failed, if it did: the code is
    /// still handed out (the message is taken), and the failure logged.
    pub after_failed: Option<String>,
}

/// An IMAP error during a look: the server went away or refused a command.
fn failed(mailbox: &Mailbox, doing: &str, e: &async_imap::error::Error) -> KeywordError {
    KeywordError::new(
        "ConnectionError",
        format!(
            "IMAP server {} of mailbox '{}' failed while {doing}: {}",
            mailbox.address(),
            mailbox.name,
            server_text(e)
        ),
    )
}

/// Selects the folder and returns its UIDVALIDITY.
pub async fn select(session: &mut Session, mailbox: &Mailbox) -> Result<u32, KeywordError> {
    let selected = session.select(&mailbox.folder).await.map_err(|e| match e {
        async_imap::error::Error::No(_) => KeywordError::value_error(format!(
            "Mailbox '{}' has no folder '{}' ({}).",
            mailbox.name,
            mailbox.folder,
            server_text(&e)
        )),
        e => failed(mailbox, "selecting the folder", &e),
    })?;
    Ok(selected.uid_validity.unwrap_or(0))
}

/// Looks once: the first message received at or after `since` (Unix
/// seconds) that passes `filters`, has a code and no other robot took.
/// `passed` holds the UIDs an earlier look of the same wait passed over
/// (no match, or taken by another robot: neither changes), so each message
/// is fetched once per wait.
pub async fn look(
    session: &mut Session,
    mailbox: &Mailbox,
    uid_validity: u32,
    since: i64,
    filters: &Filters,
    namespaces: &Namespaces,
    passed: &mut HashSet<u32>,
) -> Result<Option<Taken>, KeywordError> {
    // SINCE compares dates only, in the server's zone: a day earlier
    // covers every zone; the exact time is checked below.
    let day = imap_date(since - 86_400);
    let mut uids: Vec<u32> = session
        .uid_search(format!("SINCE {day}"))
        .await
        .map_err(|e| failed(mailbox, "searching", &e))?
        .into_iter()
        .collect();
    uids.sort_unstable();
    if uids.len() > MAX_CANDIDATES {
        uids.drain(..uids.len() - MAX_CANDIDATES);
    }
    if uids.is_empty() {
        return Ok(None);
    }
    let set = uid_set(&uids);
    let mut recent: Vec<(u32, i64, String)> = session
        .uid_fetch(&set, "(UID INTERNALDATE RFC822.SIZE)")
        .await
        .map_err(|e| failed(mailbox, "fetching dates", &e))?
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| failed(mailbox, "fetching dates", &e))?
        .into_iter()
        .filter(|f| f.size.is_some_and(|s| s <= MAX_SIZE))
        .filter_map(|f| {
            let date = f.internal_date()?;
            Some((f.uid?, date.timestamp(), date.to_rfc3339()))
        })
        .filter(|(_, at, _)| *at >= since)
        .collect();
    recent.sort_unstable_by_key(|(uid, _, _)| *uid);
    for (uid, _, received) in recent {
        if !passed.insert(uid) {
            continue;
        }
        let Some(message) = fetch(session, mailbox, uid).await? else {
            continue;
        };
        if !filters.admits(&message) {
            continue;
        }
        let Some(code) = filters.pattern.find(&message) else {
            continue;
        };
        let key = MessageKey::new(
            namespaces,
            mailbox,
            message.message_id.as_deref(),
            uid_validity,
            uid,
        );
        if key.is_taken(namespaces).await? || !key.take(namespaces).await? {
            continue;
        }
        let after_failed = after(session, mailbox, uid).await.err().map(|e| e.message);
        return Ok(Some(Taken {
            message,
            code,
            received,
            after_failed,
        }));
    }
    Ok(None)
}

/// The whole message, without setting `\Seen`.
async fn fetch(
    session: &mut Session,
    mailbox: &Mailbox,
    uid: u32,
) -> Result<Option<Message>, KeywordError> {
    let fetched = session
        .uid_fetch(uid.to_string(), "BODY.PEEK[]")
        .await
        .map_err(|e| failed(mailbox, "fetching a message", &e))?
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| failed(mailbox, "fetching a message", &e))?;
    Ok(fetched
        .iter()
        .find_map(|f| f.body())
        .and_then(Message::parse))
}

/// Flags the taken message `\Seen` or moves it, as the mailbox says.
async fn after(session: &mut Session, mailbox: &Mailbox, uid: u32) -> Result<(), KeywordError> {
    let uid = uid.to_string();
    match &mailbox.after {
        After::Nothing => Ok(()),
        After::Seen => {
            session
                .uid_store(&uid, "+FLAGS.SILENT (\\Seen)")
                .await
                .map_err(|e| failed(mailbox, "flagging the message \\Seen", &e))?
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| failed(mailbox, "flagging the message \\Seen", &e))?;
            Ok(())
        }
        After::Move(to) => session
            .uid_mv(&uid, to)
            .await
            .map_err(|e| failed(mailbox, &format!("moving the message to '{to}'"), &e)),
    }
}

/// Waits until the server reports a change to the selected folder, or
/// `most` passes (at most a minute). True when it reported one.
pub async fn idle(
    session: &mut Session,
    mailbox: &Mailbox,
    most: Duration,
) -> Result<bool, KeywordError> {
    // Changes reported since the last command mean a look is due now.
    let mut changed = false;
    while session.unsolicited_responses.try_recv().is_ok() {
        changed = true;
    }
    if changed {
        return Ok(true);
    }
    let fail = |e: &dyn std::fmt::Display| {
        KeywordError::new(
            "ConnectionError",
            format!(
                "IMAP server {} of mailbox '{}' failed while idling: {e}",
                mailbox.address(),
                mailbox.name
            ),
        )
    };
    let id = session.run_command("IDLE").await.map_err(|e| fail(&e))?;
    let until = tokio::time::Instant::now() + most.min(MAX_IDLE);
    loop {
        let response = match tokio::time::timeout_at(until, session.read_response()).await {
            Err(_) => break,
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None)) => return Err(fail(&"the server closed the connection")),
            Ok(Err(e)) => return Err(fail(&e)),
        };
        match response.parsed() {
            Response::Continue { .. }
            | Response::Data {
                status: Status::Ok, ..
            } => {}
            Response::Done { tag, status, .. } if *tag == id => {
                // The server ended IDLE itself.
                if *status != Status::Ok {
                    return Err(fail(&"the server refused IDLE"));
                }
                return Ok(true);
            }
            Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_))
            | Response::Fetch(..)
            | Response::Expunge(_) => {
                changed = true;
                break;
            }
            _ => {}
        }
    }
    session
        .run_command_untagged("DONE")
        .await
        .map_err(|e| fail(&e))?;
    loop {
        match session.read_response().await {
            Ok(Some(response)) => {
                if let Response::Done { tag, .. } = response.parsed() {
                    if *tag == id {
                        return Ok(changed);
                    }
                }
                if let Response::MailboxData(MailboxDatum::Exists(_)) = response.parsed() {
                    changed = true;
                }
            }
            Ok(None) => return Err(fail(&"the server closed the connection")),
            Err(e) => return Err(fail(&e)),
        }
    }
}

/// `uids` (sorted) as an IMAP sequence set: `3:7,9,12:13`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        while i + 1 < uids.len() && uids[i + 1] == uids[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if uids[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{}", uids[i]));
        }
        i += 1;
    }
    out
}

/// A Unix time's UTC date as IMAP's `date` (RFC 3501): `30-Nov-2026`.
fn imap_date(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let date = chrono::DateTime::from_timestamp(unix.max(0), 0).unwrap_or_default();
    use chrono::Datelike;
    format!(
        "{}-{}-{}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_join_runs() {
        assert_eq!(uid_set(&[3, 4, 5, 6, 7, 9, 12, 13]), "3:7,9,12:13");
        assert_eq!(uid_set(&[1]), "1");
    }

    #[test]
    fn imap_dates_are_day_month_year() {
        // 2026-11-30T03:38:16Z (`date -d @1796009896 -u`)
        assert_eq!(imap_date(1_796_009_896), "30-Nov-2026");
        assert_eq!(imap_date(0), "1-Jan-1970");
    }
}
