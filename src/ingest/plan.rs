//! Planning a batch: from what clients sent and what is stored, which rows to insert, which to
//! move forward, which are unchanged, and which requests are invalid — before anything is
//! written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::status::{EventExecutionStatus, InvocationStatus, JobExecutionStatus};
use entity::{event_executions, invocations, job_executions, job_logs};
use uuid::Uuid;

use super::input::{EventExecutionTreeInput, InvocationTreeInput, JobExecutionTreeInput, JobLogInput};
use super::{IngestCounts, IngestError};
use crate::db::micros;

/// The rows of one unit of work (a tree, a mutation call, an NDJSON line), flattened.
#[derive(Debug, Default, Clone)]
pub struct Unit {
    pub invocations: Vec<InvocationPatch>,
    pub events: Vec<EventPatch>,
    pub jobs: Vec<JobPatch>,
    pub logs: Vec<LogPatch>,
}

#[derive(Debug, Clone)]
pub struct InvocationPatch {
    pub path: String,
    pub id: Uuid,
    /// The row must already exist (it is only referred to, or completed).
    pub must_exist: bool,
    pub fields: InvocationTreeInput,
}

#[derive(Debug, Clone)]
pub struct EventPatch {
    pub path: String,
    pub id: Uuid,
    pub invocation_id: Option<Uuid>,
    pub must_exist: bool,
    pub fields: EventExecutionTreeInput,
}

#[derive(Debug, Clone)]
pub struct JobPatch {
    pub path: String,
    pub id: Uuid,
    pub event_execution_id: Option<Uuid>,
    pub invocation_id: Option<Uuid>,
    pub must_exist: bool,
    pub fields: JobExecutionTreeInput,
}

#[derive(Debug, Clone)]
pub struct LogPatch {
    pub path: String,
    pub id: Uuid,
    pub job_execution_id: Uuid,
    pub fields: JobLogInput,
}

/// Namespace of the UUIDv5 ids derived for log lines sent without one.
const LOG_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7c1f_3a55_2b1e_4d8e_9a0f_52d3_61e4_7b20);

impl Unit {
    /// Flattens a tree, giving ids to rows that have none. `path` prefixes error paths.
    pub fn from_tree(mut tree: InvocationTreeInput, path: &str) -> Self {
        let mut unit = Unit::default();
        let invocation_id = tree.id.unwrap_or_else(Uuid::now_v7);
        let events = tree.event_executions.take().unwrap_or_default();
        let must_exist = is_reference_invocation(&tree);
        unit.invocations.push(InvocationPatch { path: path.to_owned(), id: invocation_id, must_exist, fields: tree });
        for (e, mut event) in events.into_iter().enumerate() {
            let event_path = format!("{path}.eventExecutions[{e}]");
            let event_id = event.id.unwrap_or_else(Uuid::now_v7);
            let jobs = event.job_executions.take().unwrap_or_default();
            let must_exist = is_reference_event(&event);
            unit.events.push(EventPatch {
                path: event_path.clone(),
                id: event_id,
                invocation_id: Some(invocation_id),
                must_exist,
                fields: event,
            });
            for (j, mut job) in jobs.into_iter().enumerate() {
                let job_path = format!("{event_path}.jobExecutions[{j}]");
                let job_id = job.id.unwrap_or_else(Uuid::now_v7);
                let logs = job.logs.take().unwrap_or_default();
                let must_exist = is_reference_job(&job);
                unit.jobs.push(JobPatch {
                    path: job_path.clone(),
                    id: job_id,
                    event_execution_id: Some(event_id),
                    invocation_id: Some(invocation_id),
                    must_exist,
                    fields: job,
                });
                unit.add_logs(job_id, logs, &format!("{job_path}.logs"));
            }
        }
        unit
    }

    /// Adds log lines of one job, deriving ids for lines sent without one.
    pub fn add_logs(&mut self, job_execution_id: Uuid, logs: Vec<JobLogInput>, path: &str) {
        let mut seen: HashMap<String, u32> = HashMap::new();
        for (i, log) in logs.into_iter().enumerate() {
            let id = log.id.unwrap_or_else(|| {
                let created = log.created_at.map(|t| micros(t.0).to_rfc3339()).unwrap_or_default();
                let key = format!("{job_execution_id}|{created}|{:?}|{}", log.level, log.message);
                let ordinal = seen.entry(key.clone()).or_default();
                *ordinal += 1;
                Uuid::new_v5(&LOG_ID_NAMESPACE, format!("{key}|{ordinal}").as_bytes())
            });
            self.logs.push(LogPatch { path: format!("{path}[{i}]"), id, job_execution_id, fields: log });
        }
    }
}

fn is_reference_invocation(t: &InvocationTreeInput) -> bool {
    let InvocationTreeInput {
        id: _,
        source_function,
        source_system,
        source_event_payload,
        source_user_email,
        source_user_role,
        status,
        total_duration_ms,
        auto_load_modules,
        event_modules_directory,
        context_data,
        correlation_id,
        created_at,
        event_executions: _,
    } = t;
    source_function.is_none()
        && source_system.is_none()
        && source_event_payload.is_none()
        && source_user_email.is_none()
        && source_user_role.is_none()
        && status.is_none()
        && total_duration_ms.is_none()
        && auto_load_modules.is_none()
        && event_modules_directory.is_none()
        && context_data.is_none()
        && correlation_id.is_none()
        && created_at.is_none()
}

fn is_reference_event(e: &EventExecutionTreeInput) -> bool {
    let EventExecutionTreeInput {
        id: _,
        event_name,
        detected,
        detection_duration_ms,
        detection_error,
        status,
        handler_duration_ms,
        handler_error,
        created_at,
        job_executions: _,
    } = e;
    event_name.is_none()
        && detected.is_none()
        && detection_duration_ms.is_none()
        && detection_error.is_none()
        && status.is_none()
        && handler_duration_ms.is_none()
        && handler_error.is_none()
        && created_at.is_none()
}

fn is_reference_job(j: &JobExecutionTreeInput) -> bool {
    let JobExecutionTreeInput {
        id: _,
        job_name,
        job_function_name,
        job_options,
        status,
        duration_ms,
        result,
        error_message,
        error_stack,
        console_logs,
        attempt,
        created_at,
        logs: _,
    } = j;
    job_name.is_none()
        && job_function_name.is_none()
        && job_options.is_none()
        && status.is_none()
        && duration_ms.is_none()
        && result.is_none()
        && error_message.is_none()
        && error_stack.is_none()
        && console_logs.is_none()
        && attempt.is_none()
        && created_at.is_none()
}

/// What happens to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Insert,
    Update,
    Unchanged,
}

/// A row as it will be after the batch.
#[derive(Debug, Clone)]
pub struct Slot<M> {
    pub row: M,
    pub stored: bool,
    pub changed: bool,
    /// The status reached a final state in this batch.
    pub finished: bool,
}

impl<M> Slot<M> {
    fn stored(row: M) -> Self {
        Self { row, stored: true, changed: false, finished: false }
    }

    fn new(row: M) -> Self {
        Self { row, stored: false, changed: true, finished: false }
    }

    pub fn change(&self) -> Change {
        match (self.stored, self.changed) {
            (false, _) => Change::Insert,
            (true, true) => Change::Update,
            (true, false) => Change::Unchanged,
        }
    }
}

/// Stored rows the batch refers to, and the batch's outcome once planned.
#[derive(Debug, Default)]
pub struct Plan {
    pub invocations: HashMap<Uuid, Slot<invocations::Model>>,
    pub events: HashMap<Uuid, Slot<event_executions::Model>>,
    pub jobs: HashMap<Uuid, Slot<job_executions::Model>>,
    /// Ids of log lines already stored.
    pub stored_logs: HashSet<Uuid>,
    /// New log lines, in arrival order.
    pub new_logs: Vec<job_logs::Model>,
    /// Stored parents whose children changed: their counters are recomputed after writing.
    pub recount_events: HashSet<Uuid>,
    pub recount_invocations: HashSet<Uuid>,
    /// How to take back the changes of the unit being applied, newest last.
    undo: Vec<Undo>,
}

/// A change to the plan, and how to reverse it.
#[derive(Debug)]
enum Undo {
    Invocation(Uuid, Option<Slot<invocations::Model>>),
    Event(Uuid, Option<Slot<event_executions::Model>>),
    Job(Uuid, Option<Slot<job_executions::Model>>),
    Log(Uuid),
    RecountEvent(Uuid),
    RecountInvocation(Uuid),
}

/// Ids the batch refers to, per table, so the stored rows can be loaded before planning.
#[derive(Debug, Default)]
pub struct Referenced {
    pub invocations: Vec<Uuid>,
    pub events: Vec<Uuid>,
    pub jobs: Vec<Uuid>,
    pub logs: Vec<Uuid>,
}

pub fn referenced(units: &[Unit]) -> Referenced {
    let mut r = Referenced::default();
    let (mut inv, mut ev, mut job, mut log) = (HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new());
    for unit in units {
        inv.extend(unit.invocations.iter().map(|p| p.id));
        inv.extend(unit.events.iter().filter_map(|p| p.invocation_id));
        inv.extend(unit.jobs.iter().filter_map(|p| p.invocation_id));
        ev.extend(unit.events.iter().map(|p| p.id));
        ev.extend(unit.jobs.iter().filter_map(|p| p.event_execution_id));
        job.extend(unit.jobs.iter().map(|p| p.id));
        job.extend(unit.logs.iter().map(|p| p.job_execution_id));
        log.extend(unit.logs.iter().map(|p| p.id));
    }
    r.invocations = inv.into_iter().collect();
    r.events = ev.into_iter().collect();
    r.jobs = job.into_iter().collect();
    r.logs = log.into_iter().collect();
    r
}

impl Plan {
    pub fn new(
        invocations: Vec<invocations::Model>,
        events: Vec<event_executions::Model>,
        jobs: Vec<job_executions::Model>,
        stored_logs: Vec<Uuid>,
    ) -> Self {
        Plan {
            invocations: invocations.into_iter().map(|r| (r.id, Slot::stored(r))).collect(),
            events: events.into_iter().map(|r| (r.id, Slot::stored(r))).collect(),
            jobs: jobs.into_iter().map(|r| (r.id, Slot::stored(r))).collect(),
            stored_logs: stored_logs.into_iter().collect(),
            ..Plan::default()
        }
    }

    /// Applies every unit in order, each as a whole: an invalid unit leaves no trace in the
    /// plan, so later units are planned as if it had never been sent. Returns, per unit, the
    /// rows it touches or why it is invalid.
    pub fn apply(&mut self, units: &[Unit], now: DateTime<Utc>) -> Vec<Result<IngestCounts, IngestError>> {
        let results = units
            .iter()
            .map(|unit| {
                self.undo.clear();
                let mut counts = IngestCounts::default();
                let result = self.apply_unit(unit, now, &mut counts);
                if result.is_err() {
                    self.rollback();
                }
                result.map(|()| counts)
            })
            .collect();
        self.undo.clear();
        self.derive_new_counters();
        results
    }

    fn rollback(&mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Invocation(id, before) => restore(&mut self.invocations, id, before),
                Undo::Event(id, before) => restore(&mut self.events, id, before),
                Undo::Job(id, before) => restore(&mut self.jobs, id, before),
                Undo::Log(id) => {
                    self.stored_logs.remove(&id);
                    self.new_logs.pop();
                }
                Undo::RecountEvent(id) => {
                    self.recount_events.remove(&id);
                }
                Undo::RecountInvocation(id) => {
                    self.recount_invocations.remove(&id);
                }
            }
        }
    }

    fn recount_event(&mut self, id: Uuid) {
        if self.recount_events.insert(id) {
            self.undo.push(Undo::RecountEvent(id));
        }
    }

    fn recount_invocation(&mut self, id: Uuid) {
        if self.recount_invocations.insert(id) {
            self.undo.push(Undo::RecountInvocation(id));
        }
    }

    fn apply_unit(&mut self, unit: &Unit, now: DateTime<Utc>, counts: &mut IngestCounts) -> Result<(), IngestError> {
        for p in &unit.invocations {
            counts.invocations.add(self.invocation(p, now)?);
        }
        for p in &unit.events {
            counts.event_executions.add(self.event(p, now)?);
        }
        for p in &unit.jobs {
            counts.job_executions.add(self.job(p, now)?);
        }
        for p in &unit.logs {
            counts.job_logs.add(self.log(p, now)?);
        }
        Ok(())
    }

    fn invocation(&mut self, p: &InvocationPatch, now: DateTime<Utc>) -> Result<Change, IngestError> {
        let f = &p.fields;
        self.undo.push(Undo::Invocation(p.id, self.invocations.get(&p.id).cloned()));
        let Some(slot) = self.invocations.get_mut(&p.id) else {
            if p.must_exist {
                return Err(IngestError::not_found(&p.path, format!("invocation {} does not exist", p.id)));
            }
            let source_function = required(&f.source_function, &p.path, "sourceFunction", "a new invocation")?;
            let created_at = f.created_at.map_or(now, |t| micros(t.0));
            let status = f.status.map_or(InvocationStatus::Running, Into::into);
            let row = invocations::Model {
                id: p.id,
                source_function,
                source_system: f.source_system.clone(),
                source_event_payload: f.source_event_payload.clone().map(|j| j.0),
                source_user_email: f.source_user_email.clone(),
                source_user_role: f.source_user_role.clone(),
                status,
                total_duration_ms: duration(f.total_duration_ms, &p.path, "totalDurationMs")?,
                events_detected_count: 0,
                total_jobs_run: 0,
                total_jobs_succeeded: 0,
                total_jobs_failed: 0,
                auto_load_modules: f.auto_load_modules,
                event_modules_directory: f.event_modules_directory.clone(),
                context_data: f.context_data.clone().map(|j| j.0),
                correlation_id: f.correlation_id,
                created_at,
                updated_at: now,
            };
            let mut slot = Slot::new(row);
            slot.finished = status != InvocationStatus::Running;
            self.invocations.insert(p.id, slot);
            return Ok(Change::Insert);
        };
        let row = &mut slot.row;
        same(&row.source_function, &f.source_function, &p.path, "sourceFunction", "invocation", p.id)?;
        let forward = match f.status {
            Some(to) => run_forward(row.status.into(), to.into(), &p.path, "invocation", p.id)?,
            None => false,
        };
        let mut changed = false;
        if forward {
            row.status = f.status.map_or(row.status, Into::into);
            slot.finished = true;
            changed = true;
        }
        changed |= set(&mut row.source_system, &f.source_system, forward);
        changed |= set(&mut row.source_event_payload, &f.source_event_payload.as_ref().map(|j| j.0.clone()), forward);
        changed |= set(&mut row.source_user_email, &f.source_user_email, forward);
        changed |= set(&mut row.source_user_role, &f.source_user_role, forward);
        changed |=
            set(&mut row.total_duration_ms, &duration(f.total_duration_ms, &p.path, "totalDurationMs")?, forward);
        changed |= set(&mut row.auto_load_modules, &f.auto_load_modules, forward);
        changed |= set(&mut row.event_modules_directory, &f.event_modules_directory, forward);
        changed |= set(&mut row.context_data, &f.context_data.as_ref().map(|j| j.0.clone()), forward);
        changed |= set(&mut row.correlation_id, &f.correlation_id, forward);
        let change = mark(slot, changed, now, |r| &mut r.updated_at);
        if forward {
            // Its counters are final now: derive them from the stored children.
            self.recount_invocation(p.id);
        }
        Ok(change)
    }

    fn event(&mut self, p: &EventPatch, now: DateTime<Utc>) -> Result<Change, IngestError> {
        let f = &p.fields;
        if let Some(invocation_id) = p.invocation_id
            && !self.invocations.contains_key(&invocation_id)
        {
            return Err(IngestError::not_found(&p.path, format!("invocation {invocation_id} does not exist")));
        }
        self.undo.push(Undo::Event(p.id, self.events.get(&p.id).cloned()));
        let mut finished_now = false;
        let change = match self.events.get_mut(&p.id) {
            None => {
                if p.must_exist {
                    return Err(IngestError::not_found(&p.path, format!("event execution {} does not exist", p.id)));
                }
                let Some(invocation_id) = p.invocation_id else {
                    return Err(IngestError::bad_input(
                        &p.path,
                        "invocationId",
                        "a new event execution needs its invocation",
                    ));
                };
                let event_name = required(&f.event_name, &p.path, "eventName", "a new event execution")?;
                let status = match f.status {
                    Some(s) => s.into(),
                    None if f.detection_error.is_some() => EventExecutionStatus::Failed,
                    None => match f.detected {
                        Some(true) => EventExecutionStatus::Handling,
                        Some(false) => EventExecutionStatus::NotDetected,
                        None => EventExecutionStatus::Detecting,
                    },
                };
                let row = event_executions::Model {
                    id: p.id,
                    invocation_id,
                    event_name,
                    detected: f.detected,
                    detection_duration_ms: duration(f.detection_duration_ms, &p.path, "detectionDurationMs")?,
                    detection_error: f.detection_error.clone(),
                    status,
                    handler_duration_ms: duration(f.handler_duration_ms, &p.path, "handlerDurationMs")?,
                    handler_error: f.handler_error.clone(),
                    jobs_count: 0,
                    jobs_succeeded: 0,
                    jobs_failed: 0,
                    created_at: f.created_at.map_or(now, |t| micros(t.0)),
                    updated_at: now,
                };
                self.events.insert(p.id, Slot::new(row));
                Change::Insert
            }
            Some(slot) => {
                let row = &mut slot.row;
                if let Some(invocation_id) = p.invocation_id
                    && invocation_id != row.invocation_id
                {
                    return Err(IngestError::bad_input(
                        &p.path,
                        "invocationId",
                        format!(
                            "event execution {} belongs to invocation {}, not {invocation_id}",
                            p.id, row.invocation_id
                        ),
                    ));
                }
                same(&row.event_name, &f.event_name, &p.path, "eventName", "event execution", p.id)?;
                // A status that is not given follows the detection result on a still-detecting row.
                let target = f.status.map(Into::into).or(match (row.status, f.detection_error.is_some(), f.detected) {
                    (EventExecutionStatus::Detecting, true, _) => Some(EventExecutionStatus::Failed),
                    (EventExecutionStatus::Detecting, false, Some(true)) => Some(EventExecutionStatus::Handling),
                    (EventExecutionStatus::Detecting, false, Some(false)) => Some(EventExecutionStatus::NotDetected),
                    _ => None,
                });
                let forward = match target {
                    Some(to) => event_forward(row.status, to, &p.path, p.id)?,
                    None => false,
                };
                let mut changed = false;
                if let (true, Some(to)) = (forward, target) {
                    row.status = to;
                    changed = true;
                    finished_now = true;
                }
                changed |= set(&mut row.detected, &f.detected, forward);
                changed |= set(
                    &mut row.detection_duration_ms,
                    &duration(f.detection_duration_ms, &p.path, "detectionDurationMs")?,
                    forward,
                );
                changed |= set(&mut row.detection_error, &f.detection_error, forward);
                changed |= set(
                    &mut row.handler_duration_ms,
                    &duration(f.handler_duration_ms, &p.path, "handlerDurationMs")?,
                    forward,
                );
                changed |= set(&mut row.handler_error, &f.handler_error, forward);
                mark(slot, changed, now, |r| &mut r.updated_at)
            }
        };
        if finished_now {
            self.recount_event(p.id);
        }
        if change != Change::Unchanged
            && let Some(slot) = self.events.get(&p.id)
        {
            let invocation_id = slot.row.invocation_id;
            self.touch_invocation(invocation_id);
        }
        Ok(change)
    }

    fn job(&mut self, p: &JobPatch, now: DateTime<Utc>) -> Result<Change, IngestError> {
        let f = &p.fields;
        let parent = match p.event_execution_id {
            Some(event_id) => match self.events.get(&event_id) {
                Some(event) => Some((event_id, event.row.invocation_id)),
                None => {
                    return Err(IngestError::not_found(&p.path, format!("event execution {event_id} does not exist")));
                }
            },
            None => None,
        };
        if let (Some(given), Some((event_id, actual))) = (p.invocation_id, parent)
            && given != actual
        {
            return Err(IngestError::bad_input(
                &p.path,
                "invocationId",
                format!("event execution {event_id} belongs to invocation {actual}, not {given}"),
            ));
        }
        self.undo.push(Undo::Job(p.id, self.jobs.get(&p.id).cloned()));
        let change = match self.jobs.get_mut(&p.id) {
            None => {
                if p.must_exist {
                    return Err(IngestError::not_found(&p.path, format!("job execution {} does not exist", p.id)));
                }
                let Some((event_execution_id, invocation_id)) = parent else {
                    return Err(IngestError::bad_input(
                        &p.path,
                        "eventExecutionId",
                        "a new job execution needs its event execution",
                    ));
                };
                let job_name = required(&f.job_name, &p.path, "jobName", "a new job execution")?;
                let attempt = f.attempt.unwrap_or(1);
                if attempt < 1 {
                    return Err(IngestError::bad_input(
                        &p.path,
                        "attempt",
                        format!("must be at least 1, got {attempt}"),
                    ));
                }
                let status = f.status.map_or(JobExecutionStatus::Running, Into::into);
                let row = job_executions::Model {
                    id: p.id,
                    invocation_id,
                    event_execution_id,
                    job_name,
                    job_function_name: f.job_function_name.clone(),
                    job_options: f.job_options.clone().map(|j| j.0),
                    status,
                    duration_ms: duration(f.duration_ms, &p.path, "durationMs")?,
                    result: f.result.clone().map(|j| j.0),
                    error_message: f.error_message.clone(),
                    error_stack: f.error_stack.clone(),
                    console_logs: f.console_logs.clone().map(|j| j.0),
                    attempt,
                    created_at: f.created_at.map_or(now, |t| micros(t.0)),
                    updated_at: now,
                };
                let mut slot = Slot::new(row);
                slot.finished = status != JobExecutionStatus::Running;
                self.jobs.insert(p.id, slot);
                Change::Insert
            }
            Some(slot) => {
                let row = &mut slot.row;
                if let Some((event_id, _)) = parent
                    && event_id != row.event_execution_id
                {
                    return Err(IngestError::bad_input(
                        &p.path,
                        "eventExecutionId",
                        format!(
                            "job execution {} belongs to event execution {}, not {event_id}",
                            p.id, row.event_execution_id
                        ),
                    ));
                }
                same(&row.job_name, &f.job_name, &p.path, "jobName", "job execution", p.id)?;
                let forward = match f.status {
                    Some(to) => run_forward(row.status.into(), to.into(), &p.path, "job execution", p.id)?,
                    None => false,
                };
                let mut changed = false;
                if forward {
                    row.status = f.status.map_or(row.status, Into::into);
                    slot.finished = true;
                    changed = true;
                }
                changed |= set(&mut row.job_function_name, &f.job_function_name, forward);
                changed |= set(&mut row.job_options, &f.job_options.as_ref().map(|j| j.0.clone()), forward);
                changed |= set(&mut row.duration_ms, &duration(f.duration_ms, &p.path, "durationMs")?, forward);
                changed |= set(&mut row.result, &f.result.as_ref().map(|j| j.0.clone()), forward);
                changed |= set(&mut row.error_message, &f.error_message, forward);
                changed |= set(&mut row.error_stack, &f.error_stack, forward);
                changed |= set(&mut row.console_logs, &f.console_logs.as_ref().map(|j| j.0.clone()), forward);
                mark(slot, changed, now, |r| &mut r.updated_at)
            }
        };
        if change != Change::Unchanged
            && let Some(slot) = self.jobs.get(&p.id)
        {
            let (event_id, invocation_id) = (slot.row.event_execution_id, slot.row.invocation_id);
            self.touch_event(event_id);
            self.touch_invocation(invocation_id);
        }
        Ok(change)
    }

    fn log(&mut self, p: &LogPatch, now: DateTime<Utc>) -> Result<Change, IngestError> {
        if !self.jobs.contains_key(&p.job_execution_id) {
            return Err(IngestError::not_found(
                &p.path,
                format!("job execution {} does not exist", p.job_execution_id),
            ));
        }
        if !self.stored_logs.insert(p.id) {
            return Ok(Change::Unchanged);
        }
        self.undo.push(Undo::Log(p.id));
        let f = &p.fields;
        let created_at = f.created_at.map_or(now, |t| micros(t.0));
        self.new_logs.push(job_logs::Model {
            id: p.id,
            job_execution_id: p.job_execution_id,
            level: f.level.into(),
            message: f.message.clone(),
            data: f.data.clone().map(|j| j.0),
            source: f.source.clone(),
            created_at,
            updated_at: now,
        });
        Ok(Change::Insert)
    }

    /// A stored event gets its counters recomputed after the write; a new one below.
    fn touch_event(&mut self, id: Uuid) {
        if self.events.get(&id).is_some_and(|s| s.stored) {
            self.recount_event(id);
        }
    }

    fn touch_invocation(&mut self, id: Uuid) {
        if self.invocations.get(&id).is_some_and(|s| s.stored) {
            self.recount_invocation(id);
        }
    }

    /// Counters of parents created in this batch, from their children (all in the batch).
    fn derive_new_counters(&mut self) {
        for slot in self.events.values_mut().filter(|s| !s.stored) {
            let e = &mut slot.row;
            (e.jobs_count, e.jobs_succeeded, e.jobs_failed) = (0, 0, 0);
        }
        for slot in self.invocations.values_mut().filter(|s| !s.stored) {
            let i = &mut slot.row;
            (i.events_detected_count, i.total_jobs_run, i.total_jobs_succeeded, i.total_jobs_failed) = (0, 0, 0, 0);
        }
        for job in self.jobs.values() {
            let (ok, failed) = outcome(job.row.status);
            if let Some(event) = self.events.get_mut(&job.row.event_execution_id).filter(|s| !s.stored) {
                event.row.jobs_count += 1;
                event.row.jobs_succeeded += ok;
                event.row.jobs_failed += failed;
            }
            if let Some(invocation) = self.invocations.get_mut(&job.row.invocation_id).filter(|s| !s.stored) {
                invocation.row.total_jobs_run += 1;
                invocation.row.total_jobs_succeeded += ok;
                invocation.row.total_jobs_failed += failed;
            }
        }
        for event in self.events.values() {
            if event.row.detected == Some(true)
                && let Some(invocation) = self.invocations.get_mut(&event.row.invocation_id).filter(|s| !s.stored)
            {
                invocation.row.events_detected_count += 1;
            }
        }
    }
}

/// (succeeded, failed) contribution of a job in `status`.
pub fn outcome(status: JobExecutionStatus) -> (i32, i32) {
    match status {
        JobExecutionStatus::Completed => (1, 0),
        JobExecutionStatus::Failed => (0, 1),
        JobExecutionStatus::Running => (0, 0),
    }
}

/// Records a patch to an existing slot: stored, or created by an earlier patch of the batch (to
/// this patch it already existed, so a change is an update and the insert is counted once).
fn mark<M>(
    slot: &mut Slot<M>,
    changed: bool,
    now: DateTime<Utc>,
    updated_at: impl Fn(&mut M) -> &mut DateTime<Utc>,
) -> Change {
    if changed {
        *updated_at(&mut slot.row) = now;
        slot.changed = true;
        Change::Update
    } else {
        Change::Unchanged
    }
}

fn restore<M>(slots: &mut HashMap<Uuid, Slot<M>>, id: Uuid, before: Option<Slot<M>>) {
    match before {
        Some(slot) => {
            slots.insert(id, slot);
        }
        None => {
            slots.remove(&id);
        }
    }
}

/// Sets a field from a given value: fills it when empty, and replaces it when the row moves
/// forward. Same-status re-sends never overwrite what is stored (the first report wins).
fn set<T: PartialEq + Clone>(field: &mut Option<T>, value: &Option<T>, forward: bool) -> bool {
    match value {
        Some(v) if field.is_none() || (forward && field.as_ref() != Some(v)) => {
            *field = Some(v.clone());
            true
        }
        _ => false,
    }
}

fn required(value: &Option<String>, path: &str, field: &str, what: &str) -> Result<String, IngestError> {
    value.clone().ok_or_else(|| IngestError::bad_input(path, field, format!("{what} needs `{field}`")))
}

fn duration(value: Option<i32>, path: &str, field: &str) -> Result<Option<i32>, IngestError> {
    match value {
        Some(ms) if ms < 0 => Err(IngestError::bad_input(path, field, format!("must not be negative, got {ms}"))),
        _ => Ok(value),
    }
}

/// Fields that name what a row is cannot change.
fn same(
    stored: &str,
    given: &Option<String>,
    path: &str,
    field: &str,
    what: &str,
    id: Uuid,
) -> Result<(), IngestError> {
    match given {
        Some(given) if given != stored => Err(IngestError::bad_input(
            path,
            field,
            format!("{what} {id} already exists with {field} {stored:?}; it cannot become {given:?}"),
        )),
        _ => Ok(()),
    }
}

/// The common lifecycle of invocations and jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Running,
    Completed,
    Failed,
}

impl From<InvocationStatus> for Run {
    fn from(s: InvocationStatus) -> Self {
        match s {
            InvocationStatus::Running => Run::Running,
            InvocationStatus::Completed => Run::Completed,
            InvocationStatus::Failed => Run::Failed,
        }
    }
}

impl From<JobExecutionStatus> for Run {
    fn from(s: JobExecutionStatus) -> Self {
        match s {
            JobExecutionStatus::Running => Run::Running,
            JobExecutionStatus::Completed => Run::Completed,
            JobExecutionStatus::Failed => Run::Failed,
        }
    }
}

impl From<crate::graphql::types::enums::InvocationStatus> for Run {
    fn from(s: crate::graphql::types::enums::InvocationStatus) -> Self {
        InvocationStatus::from(s).into()
    }
}

impl From<crate::graphql::types::enums::JobExecutionStatus> for Run {
    fn from(s: crate::graphql::types::enums::JobExecutionStatus) -> Self {
        JobExecutionStatus::from(s).into()
    }
}

/// Whether `from` → `to` moves forward (`running` → an end); the same status is no move; any
/// other change goes backwards or between ends, which is refused.
fn run_forward(from: Run, to: Run, path: &str, what: &str, id: Uuid) -> Result<bool, IngestError> {
    match (from, to) {
        _ if from == to => Ok(false),
        (Run::Running, _) => Ok(true),
        _ => Err(IngestError::bad_input(
            path,
            "status",
            format!("{what} {id} is {} and cannot become {}", name(from), name(to)),
        )),
    }
}

fn name(run: Run) -> &'static str {
    match run {
        Run::Running => "RUNNING",
        Run::Completed => "COMPLETED",
        Run::Failed => "FAILED",
    }
}

/// Event lifecycle: DETECTING → HANDLING | NOT_DETECTED | COMPLETED | FAILED, and
/// HANDLING → COMPLETED | FAILED.
fn event_forward(
    from: EventExecutionStatus,
    to: EventExecutionStatus,
    path: &str,
    id: Uuid,
) -> Result<bool, IngestError> {
    use EventExecutionStatus::*;
    match (from, to) {
        _ if from == to => Ok(false),
        (Detecting, _) | (Handling, Completed | Failed) => Ok(true),
        _ => Err(IngestError::bad_input(
            path,
            "status",
            format!("event execution {id} is {} and cannot become {}", event_name(from), event_name(to)),
        )),
    }
}

fn event_name(status: EventExecutionStatus) -> &'static str {
    match status {
        EventExecutionStatus::Detecting => "DETECTING",
        EventExecutionStatus::NotDetected => "NOT_DETECTED",
        EventExecutionStatus::Handling => "HANDLING",
        EventExecutionStatus::Completed => "COMPLETED",
        EventExecutionStatus::Failed => "FAILED",
    }
}
