package events

// Every NATS resource gatehouse uses is named here, and only here: streams,
// subjects and subject prefixes, KV buckets, object stores, durable
// consumers, connection names and message headers. Operators read this file
// to know what a deployment creates (and what to grant in NATS accounts);
// code and tests reference these constants instead of spelling names.

// Streams.
const (
	// PolicyStream holds the current state of every policy object (last
	// message per subject).
	PolicyStream = "GATEHOUSE_POLICY"
	// AuditStream sources PolicyStream and keeps every event.
	AuditStream = "GATEHOUSE_AUDIT"
	// SpendStream holds spend events until the sink and the budget tracker
	// consumed them.
	SpendStream = "GATEHOUSE_SPEND"
	// UpsertStream holds edges' upsert requests (JWT-implied users, teams,
	// memberships) until a control replica applied them (work queue).
	UpsertStream = "GATEHOUSE_UPSERT"
	// PoisonStream keeps messages a consumer could not use, for an operator
	// to inspect and replay (gatewayctl poison list|replay).
	PoisonStream = "GATEHOUSE_POISON"
)

// Subjects and subject prefixes.
const (
	// PolicySubjects is the wildcard PolicyStream captures; an object's
	// subject is PolicySubjectPrefix.<kind>.<id token> (see Subject).
	PolicySubjectPrefix = Product + ".policy"
	PolicySubjects      = PolicySubjectPrefix + ".>"
	// EdgeStatusPrefix: edges publish EdgeStatus on <prefix>.<edge id>
	// (core NATS, not persisted) after each applied batch and on a heartbeat.
	EdgeStatusPrefix = Product + ".edge.status"
	// EdgeStatusSubjects matches every edge's status subject.
	EdgeStatusSubjects = EdgeStatusPrefix + ".*"
	// SpendSubjectPrefix: edges publish spend on <prefix>.<edge id>.
	SpendSubjectPrefix = Product + ".spend"
	SpendSubjects      = SpendSubjectPrefix + ".>"
	// UpsertSubject carries requests from edges to the control plane to
	// create objects a JWT caller implies; UpsertStream captures it.
	UpsertSubject = Product + ".control.upsert"
	// RateLimitSubjectPrefix: edges gossip rate-limit counts on
	// <prefix>.<edge id> (core NATS, fire and forget).
	RateLimitSubjectPrefix = Product + ".ratelimit"
	// PoisonSubjectPrefix: a consumer's poisoned messages are stored on
	// <prefix>.<durable>.
	PoisonSubjectPrefix = Product + ".poison"
	PoisonSubjects      = PoisonSubjectPrefix + ".>"
)

// KV buckets and object stores.
const (
	// TotalsBucket (KV) holds the budget tracker's spend totals per
	// key/team/user and budget window.
	TotalsBucket = "gatehouse_spend_totals"
	// SnapshotBucket (object store) holds the control plane's policy
	// snapshot, SnapshotObject the latest one in it.
	SnapshotBucket = "gatehouse_policy_snapshots"
	SnapshotObject = "policy"
)

// KVStream is the stream backing a KV bucket (how JetStream stores it).
func KVStream(bucket string) string { return "KV_" + bucket }

// Durable consumers. Replicas of a component share its durable, so each
// message is handled by one of them.
const (
	// SinkDurable: the ClickHouse sink on SpendStream.
	SinkDurable = "clickhouse-sink"
	// BudgetDurable: the budget tracker on SpendStream.
	BudgetDurable = "budget-tracker"
	// UpsertDurable: the control plane's upsert processor on UpsertStream.
	UpsertDurable = "control-upsert"
)

// Connection names (shown by the NATS server's monitoring).
const (
	ConnControl    = "gatehouse-control"
	ConnEdgePrefix = "gatehouse-edge-" // + edge id
	ConnSink       = "gatehouse-sink"
)

// Message headers.
const (
	// HeaderMsgID is JetStream's dedupe id (nats.MsgIdHdr).
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderRequestID carries the x-request-id of the HTTP request that
	// caused a message; processors use it as the correlation id.
	HeaderRequestID = "X-Request-Id"
	// Poison headers: where a poisoned message came from, who refused it
	// and why. The original headers are kept alongside.
	HeaderPoisonStream   = "Gatehouse-Poison-Stream"
	HeaderPoisonSubject  = "Gatehouse-Poison-Subject"
	HeaderPoisonSeq      = "Gatehouse-Poison-Seq"
	HeaderPoisonConsumer = "Gatehouse-Poison-Consumer"
	HeaderPoisonReason   = "Gatehouse-Poison-Reason"
	// HeaderReplayFor marks a message replayed from PoisonStream into its
	// original stream: only the named durable handles it, every other
	// consumer of the stream acks it unread (it already handled the
	// original).
	HeaderReplayFor = "Gatehouse-Replay-For"
)
