//! `Get Secret` and `Set Secret`, with RPA.Robocorp.Vault's names, over
//! any configured vault the caller may use.

use std::collections::BTreeMap;

use crate::library::{Keyword, KeywordError, Param};
use crate::value::{Type, Value};

/// The tag of keywords whose return value is a secret: test runs drop
/// Robot's `${x} = …` lines of these from the kept output
/// (`rebot --removekeywords tag:returns-secret`).
pub const RETURNS_SECRET: &str = "returns-secret";

fn vault_param() -> Param {
    Param::named("vault", Type::optional(Type::Str), Value::None)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Get Secret")
            .param(Param::required("secret_name", Type::Str))
            .param(vault_param())
            .returns(Type::Dict)
            .tags(&[RETURNS_SECRET, "vault"])
            .doc(
                "Returns the secret ``secret_name`` as a dictionary of its keys and values.

As RPA.Robocorp.Vault's `Get Secret`: Robot gives dot access to the result \
(``${secret.username}``, ``${secret}[password]``). Only the keys and values \
come back, not a ``Secret`` object with a name and description. The server \
logs none of the values; Robot itself logs ``${x} = …`` for the assignment, \
so keep such runs' logs private or drop those lines (``rebot \
--removekeywords tag:returns-secret``).

Named-only ``vault=NAME`` reads a vault configured as ``--vault NAME=SPEC`` \
(default: the unnamed one). A missing secret fails with ``KeyError: \
'Undefined secret: NAME'``; a vault outside the caller's allow list, or a \
secret holding the server's own credentials, with ``PermissionError``.

Example:
| ${login}=    `Get Secret`    swaglabs
| Input Text    username    ${login.username}
| ${otp}=    `Get Secret`    mfa    vault=bao",
            )
            .handler(|call| async move {
                let name = call.args.str("secret_name").unwrap_or_default();
                let vault =
                    call.access
                        .vault(call.services.vaults(), call.args.str("vault"), name)?;
                let secret = vault.get(name).await?;
                let values = secret
                    .keys()
                    .map(|key| {
                        let value = secret.value(key).map(|v| v.as_str().to_owned());
                        value.map(|v| (key.to_owned(), Value::Str(v)))
                    })
                    .collect::<Result<BTreeMap<_, _>, _>>()?;
                Ok(Value::Dict(values))
            }),
        Keyword::new("Set Secret")
            .param(Param::required("secret_name", Type::Str))
            .param(Param::required("values", Type::Dict))
            .param(vault_param())
            .tags(&["vault"])
            .doc(
                "Stores ``values`` (a dictionary of keys and values) in the secret ``secret_name``.

RPA.Robocorp.Vault's `Set Secret` takes the ``Secret`` object `Get Secret` \
returned; over the Remote protocol it takes the secret's name and a \
dictionary instead, and the keys not given are kept (the given ones are \
added or replaced), so `Get Secret`, change a value, `Set Secret` works as \
there. The secret is created when missing. Values are strings; numbers and \
booleans are stored as their text.

A KV v2 vault (HashiCorp Vault, OpenBao) writes one new version with \
check-and-set, reading again when another writer came first, so concurrent \
writers of different keys lose nothing. Named-only ``vault=NAME`` as for \
`Get Secret`; ``env:`` vaults are read-only.

Example:
| ${values}=    Create Dictionary    username=bot    password=${new}
| `Set Secret`    swaglabs    ${values}
| `Set Secret`    mfa    ${values}    vault=bao",
            )
            .handler(|call| async move {
                let name = call.args.str("secret_name").unwrap_or_default();
                let Value::Dict(given) = call.args.get("values") else {
                    return Err(KeywordError::new(
                        "TypeError",
                        "values must be a dictionary of keys and values",
                    ));
                };
                if given.is_empty() {
                    return Err(KeywordError::new(
                        "ValueError",
                        format!("Set Secret {name}: values is empty; give at least one key"),
                    ));
                }
                let mut texts = Vec::with_capacity(given.len());
                for (key, value) in given {
                    let text = match value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(x) => x.to_string(),
                        Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
                        other => {
                            return Err(KeywordError::new(
                                "TypeError",
                                format!(
                                "value of key '{key}' must be a string, number or boolean, not {}",
                                other.type_name()
                            ),
                            ))
                        }
                    };
                    texts.push((key.as_str(), zeroize::Zeroizing::new(text)));
                }
                let vault =
                    call.access
                        .vault(call.services.vaults(), call.args.str("vault"), name)?;
                let pairs: Vec<(&str, &str)> =
                    texts.iter().map(|(k, v)| (*k, v.as_str())).collect();
                vault.set_values(name, &pairs).await?;
                Ok(Value::None)
            }),
    ]
}
