// Package events is the domain: the catalog of normalized domain events that this
// service publishes for the vendor's internal systems, their deterministic ids,
// exact money (Decimal), and the small interfaces the rest of the service uses.
// It imports no transport (no NATS, no HTTP): those live at the edges. It holds
// no Maventa wire format either: package maventa decodes Maventa's JSON and
// hands this package the plain inputs of inputs.go; this package decides what
// they mean. Seed 003's tables (who creates each assignment event type, the
// collection statuses) are here once, for the client and the sandbox too.
package events
