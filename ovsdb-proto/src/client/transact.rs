//! The transaction builder and its typed outcome.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::atom::Uuid;
use crate::condition::Condition;
use crate::datum::Row;
use crate::methods::Transact;
use crate::mutation::Mutation;
use crate::operation::{Operation, OperationResult, WaitUntil};
use crate::params::TransactParams;

use super::{ClientError, OvsdbClient, TransactError};

/// A transaction being built: operations are added in order, then
/// [`execute`](Self::execute) sends them as one `transact`.
///
/// The setters that refine an operation (`named`, `with_uuid`, `columns`,
/// `timeout`) apply to the one added last; used after any other operation
/// they make `execute` fail with [`ClientError::InvalidRequest`] without
/// sending anything.
///
/// ```no_run
/// use ovsdb_proto::atom::Atom;
/// use ovsdb_proto::client::OvsdbClient;
/// use ovsdb_proto::condition::{Condition, Function};
/// use ovsdb_proto::datum::Row;
/// use ovsdb_proto::mutation::{Mutation, Mutator};
///
/// # async fn demo(client: OvsdbClient) -> Result<(), ovsdb_proto::client::ClientError> {
/// let row = Row::from([("name".to_owned(), Atom::from("web1").into())]);
/// let outcome = client
///     .transact("Test")
///     .insert("Host", row).named("web1")
///     .mutate("Host", vec![Condition::new("name", Function::Equal, "web1")],
///             vec![Mutation::new("port", Mutator::Add, Atom::from(1))])
///     .select("Host", vec![Condition::Boolean(true)]).columns(["name"])
///     .comment("added web1")
///     .execute()
///     .await?;
/// let uuid = outcome.uuid_of("web1");
/// let rows = outcome.rows(2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a transaction does nothing until it is executed"]
pub struct Transaction {
    client: OvsdbClient,
    db: String,
    operations: Vec<Operation>,
    /// The first misuse of a refining setter, reported by `execute`.
    misuse: Option<String>,
    timeout: Option<Option<Duration>>,
}

impl Transaction {
    pub(super) fn new(client: OvsdbClient, db: &str) -> Self {
        Transaction {
            client,
            db: db.to_owned(),
            operations: Vec::new(),
            misuse: None,
            timeout: None,
        }
    }

    /// Adds any operation as it is.
    pub fn operation(mut self, op: Operation) -> Self {
        self.operations.push(op);
        self
    }

    /// The operations so far.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Adds an `insert` of `row` into `table`.
    pub fn insert(self, table: &str, row: Row) -> Self {
        self.operation(Operation::Insert {
            table: table.into(),
            row,
            uuid_name: None,
            uuid: None,
        })
    }

    /// Names the row the last `insert` adds, so later operations can refer
    /// to it as `Atom::NamedUuid(name)` and [`Outcome::uuid_of`] finds it.
    pub fn named(mut self, name: &str) -> Self {
        match self.operations.last_mut() {
            Some(Operation::Insert { uuid_name, .. }) => *uuid_name = Some(name.into()),
            _ => self.misused("named() must follow insert()"),
        }
        self
    }

    /// Gives the row the last `insert` adds this UUID (OVS 2.13 and later).
    pub fn with_uuid(mut self, id: Uuid) -> Self {
        match self.operations.last_mut() {
            Some(Operation::Insert { uuid, .. }) => *uuid = Some(id),
            _ => self.misused("with_uuid() must follow insert()"),
        }
        self
    }

    /// Adds a `select` of the rows of `table` that match `conditions`.
    pub fn select(self, table: &str, conditions: Vec<Condition>) -> Self {
        self.operation(Operation::Select {
            table: table.into(),
            conditions,
            columns: None,
        })
    }

    /// Reads only these columns in the last `select`.
    pub fn columns<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        match self.operations.last_mut() {
            Some(Operation::Select { columns, .. }) => {
                *columns = Some(names.into_iter().map(Into::into).collect());
            }
            _ => self.misused("columns() must follow select()"),
        }
        self
    }

    /// Adds an `update` setting `row`'s columns in the rows that match.
    pub fn update(self, table: &str, conditions: Vec<Condition>, row: Row) -> Self {
        self.operation(Operation::Update {
            table: table.into(),
            conditions,
            row,
        })
    }

    /// Adds a `mutate` applying `mutations` to the rows that match.
    pub fn mutate(self, table: &str, conditions: Vec<Condition>, mutations: Vec<Mutation>) -> Self {
        self.operation(Operation::Mutate {
            table: table.into(),
            conditions,
            mutations,
        })
    }

    /// Adds a `delete` of the rows that match.
    pub fn delete(self, table: &str, conditions: Vec<Condition>) -> Self {
        self.operation(Operation::Delete {
            table: table.into(),
            conditions,
        })
    }

    /// Adds a `wait` until the matching rows' `columns` are (`Equal`) or
    /// are not (`NotEqual`) `rows`. It waits for ever unless
    /// [`timeout`](Self::timeout) follows.
    pub fn wait(
        self,
        table: &str,
        conditions: Vec<Condition>,
        columns: Vec<String>,
        until: WaitUntil,
        rows: Vec<Row>,
    ) -> Self {
        self.operation(Operation::Wait {
            table: table.into(),
            conditions,
            columns,
            until,
            rows,
            timeout: None,
        })
    }

    /// Gives the last `wait` a timeout in milliseconds (0: fail at once
    /// with "timed out" unless the condition already holds).
    pub fn timeout(mut self, millis: u64) -> Self {
        match self.operations.last_mut() {
            Some(Operation::Wait { timeout, .. }) => *timeout = Some(millis),
            _ => self.misused("timeout() must follow wait()"),
        }
        self
    }

    /// Adds a `commit`; `durable` asks for the transaction to be on disk
    /// before the reply.
    pub fn commit(self, durable: bool) -> Self {
        self.operation(Operation::Commit { durable })
    }

    /// Adds an `abort`: the transaction fails with "aborted".
    pub fn abort(self) -> Self {
        self.operation(Operation::Abort)
    }

    /// Adds a `comment` for the database log.
    pub fn comment(self, text: &str) -> Self {
        self.operation(Operation::Comment {
            comment: text.into(),
        })
    }

    /// Adds an `assert` that this connection holds `lock` ("not owner"
    /// otherwise).
    pub fn assert_lock(self, lock: &str) -> Self {
        self.operation(Operation::Assert { lock: lock.into() })
    }

    /// This call's own deadline instead of the client's (`None`: wait for
    /// ever, for a long `wait`).
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn misused(&mut self, what: &str) {
        self.misuse.get_or_insert_with(|| what.to_owned());
    }

    /// Sends the transaction and waits for its outcome.
    ///
    /// Fails with [`ClientError::Transaction`] when the server refused an
    /// operation or the commit, naming which.
    pub async fn execute(self) -> Result<Outcome, ClientError> {
        if let Some(misuse) = self.misuse {
            return Err(ClientError::InvalidRequest(misuse));
        }
        let count = self.operations.len();
        let names: Vec<(&'static str, Option<String>)> =
            self.operations.iter().map(describe).collect();
        let params = TransactParams {
            db: self.db,
            operations: self.operations,
        };
        let peer = &self.client.inner.peer;
        let timeout = self
            .timeout
            .unwrap_or(self.client.inner.options.call_timeout);
        let reply = peer
            .call_with_timeout::<Transact>(params, timeout)
            .await
            .map_err(|e| ClientError::of_call("transact", e))?;
        Outcome::read(reply.0, &names, count)
    }
}

/// An operation's wire name, and the `uuid-name` of an insert.
fn describe(op: &Operation) -> (&'static str, Option<String>) {
    match op {
        Operation::Insert { uuid_name, .. } => ("insert", uuid_name.clone()),
        Operation::Select { .. } => ("select", None),
        Operation::Update { .. } => ("update", None),
        Operation::Mutate { .. } => ("mutate", None),
        Operation::Delete { .. } => ("delete", None),
        Operation::Wait { .. } => ("wait", None),
        Operation::Commit { .. } => ("commit", None),
        Operation::Abort => ("abort", None),
        Operation::Comment { .. } => ("comment", None),
        Operation::Assert { .. } => ("assert", None),
    }
}

/// What one successful operation returned.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// `insert`: the new row's UUID.
    Inserted(Uuid),
    /// `select`: the rows read.
    Rows(Vec<Row>),
    /// `update`, `mutate`, `delete`: how many rows matched.
    Count(u64),
    /// `wait`, `commit`, `comment`, `assert`: nothing to report.
    Done,
}

/// The outcome of a successful transaction: one result per operation, in
/// order, and the UUIDs of the named inserts.
///
/// ```
/// use ovsdb_proto::atom::Uuid;
/// use ovsdb_proto::client::{OpResult, Outcome};
///
/// let outcome = Outcome {
///     results: vec![OpResult::Inserted(Uuid::nil()), OpResult::Count(2)],
///     named: [("h".to_owned(), Uuid::nil())].into_iter().collect(),
/// };
/// assert_eq!(outcome.uuid_of("h"), outcome.inserted(0));
/// assert_eq!(outcome.count(1), Some(2));
/// assert_eq!(outcome.rows(1), None);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// One result per operation.
    pub results: Vec<OpResult>,
    /// The UUID of each inserted row that was [`named`](Transaction::named).
    pub named: BTreeMap<String, Uuid>,
}

impl Outcome {
    /// Reads the reply to `count` operations described by `names`.
    fn read(
        reply: Vec<OperationResult>,
        names: &[(&'static str, Option<String>)],
        count: usize,
    ) -> Result<Outcome, ClientError> {
        let unexpected = |reason: String| ClientError::UnexpectedReply {
            method: "transact",
            reason,
        };
        // The first error decides, wherever it stands: an operation's, or
        // the commit's one extra result. Results are read in order, so no
        // operation's result is taken before an earlier error is seen.
        let mut outcome = Outcome::default();
        for (index, result) in reply.into_iter().enumerate() {
            let Some((op, name)) = names.get(index) else {
                // Past the operations: only the commit's error may stand here.
                match result {
                    OperationResult::Error(error) => {
                        return Err(TransactError {
                            index,
                            op: "commit",
                            at_commit: true,
                            error,
                        }
                        .into())
                    }
                    _ => continue,
                }
            };
            let typed = match result {
                OperationResult::Error(error) => {
                    return Err(TransactError {
                        index,
                        op,
                        at_commit: false,
                        error,
                    }
                    .into())
                }
                OperationResult::Inserted(uuid) => {
                    if let Some(name) = name {
                        outcome.named.insert(name.clone(), uuid);
                    }
                    OpResult::Inserted(uuid)
                }
                OperationResult::Rows(rows) => OpResult::Rows(rows),
                OperationResult::Count(n) => OpResult::Count(n),
                OperationResult::Done => OpResult::Done,
                OperationResult::NotExecuted => {
                    return Err(unexpected(format!(
                        "operation {index} ({op}) was not executed, and no error came before it"
                    )))
                }
            };
            outcome.results.push(typed);
        }
        if outcome.results.len() < count {
            return Err(unexpected(format!(
                "{} results for {count} operations",
                outcome.results.len()
            )));
        }
        Ok(outcome)
    }

    /// The UUID of the row inserted under `name`.
    pub fn uuid_of(&self, name: &str) -> Option<Uuid> {
        self.named.get(name).copied()
    }

    /// The UUID the insert at `index` added.
    pub fn inserted(&self, index: usize) -> Option<Uuid> {
        match self.results.get(index) {
            Some(OpResult::Inserted(uuid)) => Some(*uuid),
            _ => None,
        }
    }

    /// The rows the select at `index` read.
    pub fn rows(&self, index: usize) -> Option<&[Row]> {
        match self.results.get(index) {
            Some(OpResult::Rows(rows)) => Some(rows),
            _ => None,
        }
    }

    /// How many rows the update, mutate or delete at `index` matched.
    pub fn count(&self, index: usize) -> Option<u64> {
        match self.results.get(index) {
            Some(OpResult::Count(n)) => Some(*n),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, OvsdbError};

    fn names(ops: &[&'static str]) -> Vec<(&'static str, Option<String>)> {
        ops.iter().map(|op| (*op, None)).collect()
    }

    #[test]
    fn an_operation_error_names_its_operation() {
        let reply = vec![
            OperationResult::Count(1),
            OperationResult::Error(OvsdbError::new(ErrorKind::TimedOut)),
            OperationResult::NotExecuted,
        ];
        let err = Outcome::read(reply, &names(&["update", "wait", "delete"]), 3).unwrap_err();
        match err {
            ClientError::Transaction(t) => {
                assert_eq!((t.index, t.op, t.at_commit), (1, "wait", false));
                assert_eq!(t.error.error, ErrorKind::TimedOut);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_commit_error_is_the_extra_result() {
        let reply = vec![
            OperationResult::Inserted(Uuid::nil()),
            OperationResult::Error(OvsdbError::new(ErrorKind::ConstraintViolation)),
        ];
        let err = Outcome::read(reply, &names(&["insert"]), 1).unwrap_err();
        match err {
            ClientError::Transaction(t) => {
                assert_eq!((t.index, t.op, t.at_commit), (1, "commit", true));
                assert!(t.to_string().starts_with("the commit (after 1 operations)"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_replies_are_refused() {
        let err = Outcome::read(vec![], &names(&["insert"]), 1).unwrap_err();
        assert!(matches!(err, ClientError::UnexpectedReply { .. }));
        let err =
            Outcome::read(vec![OperationResult::NotExecuted], &names(&["select"]), 1).unwrap_err();
        assert!(matches!(err, ClientError::UnexpectedReply { .. }));
    }
}
