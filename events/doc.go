// Package events is the domain: the catalog of normalized domain events that this
// service publishes for the vendor's internal systems, their deterministic ids,
// exact money (Decimal), and the small interfaces the rest of the service uses.
// It imports no transport (no NATS, no HTTP): those live at the edges.
package events
